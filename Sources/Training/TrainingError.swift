// TrainingError.swift — the error of the Training target: a model, input or
// file that training cannot use, in words naming what and why.

import CTCore

/// A training input, model or state file that cannot be used.
public struct TrainingError: ReasonedError, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
