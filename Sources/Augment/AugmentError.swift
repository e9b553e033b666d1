// AugmentError.swift — the one error type of the Augment module.

/// An input the transforms cannot work on (wrong channel count, image and
/// label of different sizes, an empty image, a bad configuration value).
public struct AugmentError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The transform or configuration that refused the input.
    public let stage: String
    public let reason: String

    public init(stage: String, reason: String) {
        self.stage = stage
        self.reason = reason
    }

    public var description: String { "\(stage): \(reason)" }
}
