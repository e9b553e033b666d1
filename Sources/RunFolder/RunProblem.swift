// RunProblem.swift — a sample that failed during a run: which dataset,
// which sample, which file, what went wrong. With `on_error: skip` these are
// recorded in the shard records and counted in the metrics as skipped.

import Datasets

public struct RunProblem: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public var dataset: String, sample: String, file: String
    public var kind: String, message: String

    public init(dataset: String, sample: String, file: String, kind: String, message: String) {
        self.dataset = dataset
        self.sample = sample
        self.file = file
        self.kind = kind
        self.message = message
    }

    public init(dataset: String, sample: String, _ problem: DatasetProblem) {
        self.init(dataset: dataset, sample: sample, file: problem.file, kind: problem.kind.rawValue, message: problem.message)
    }

    public var description: String { "\(file): \(message) [\(dataset) sample \(sample)]" }
}
