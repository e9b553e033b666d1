// RunError.swift — why a run (or the reading of a run folder) cannot proceed, in words.

/// A run that cannot proceed, with the reason in words.
public struct RunError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
