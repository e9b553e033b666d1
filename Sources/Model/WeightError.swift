// WeightError.swift — the one error type of weight files: which file, which
// tensor (if any), and what was wrong, in one line.

/// A weight file that cannot be read or does not fit the model.
public struct WeightError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or a description of the source when not a file).
    public let path: String
    /// The tensor concerned, if the problem is about one tensor.
    public let tensor: String?
    public let reason: String

    public init(path: String, tensor: String? = nil, reason: String) {
        self.path = path
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String {
        if let tensor { return "\(path): tensor '\(tensor)': \(reason)" }
        return "\(path): \(reason)"
    }
}
