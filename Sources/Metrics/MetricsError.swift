// MetricsError.swift — the one error type of the Metrics module.

/// Mismatched planes or matrices, or a metrics file that does not decode,
/// naming the file and JSON path where there is one.
public struct MetricsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let context: String
    public let reason: String

    public init(context: String, reason: String) {
        self.context = context
        self.reason = reason
    }

    public var description: String { "\(context): \(reason)" }
}
