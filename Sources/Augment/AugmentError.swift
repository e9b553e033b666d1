// AugmentError.swift — the one error type of the Augment module.

import CTCore

/// An input the transforms cannot work on (wrong channel count, image and
/// label of different sizes, an empty image, a bad configuration value).
/// Made by the transforms only; printed `stage: reason`.
public struct AugmentError: ReasonedError, Equatable {
    /// The transform or configuration that refused the input.
    public let stage: String
    public let reason: String

    public var subject: String? { stage }
}
