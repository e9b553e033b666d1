// MetricsError.swift — the one error type of the Metrics module.

import CTCore

/// Mismatched planes or matrices, or a metrics file that does not decode,
/// naming the file and JSON path where there is one.
/// Made by this module only; printed `context: reason`.
public struct MetricsError: ReasonedError, Equatable {
    public let context: String
    public let reason: String

    public var subject: String? { context }
}
