// ReasonedError.swift — the one description of the project's errors: what it
// concerns (a file, a transform, a JSON path), if anything, then what went
// wrong, `subject: reason`. Each module keeps its own error type with its own
// field names; conforming gives it this description.

/// An error that says what went wrong and, optionally, what it concerns.
public protocol ReasonedError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in words.
    var reason: String { get }
    /// What the error concerns, written before the reason; nil when the reason stands alone.
    var subject: String? { get }
}

extension ReasonedError {
    public var subject: String? { nil }

    /// `subject: reason`, or the reason alone.
    public var description: String {
        guard let subject else { return reason }
        return "\(subject): \(reason)"
    }
}
