// ShardID.swift — one shard of one dataset's sample list: its name in the run
// folder (shards/<dataset>/<k>-of-<N>.json) and the samples it owns.

/// One shard of one dataset's sample list.
public struct ShardID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var dataset: String
    /// Shard `index` (0-based) of `count`.
    public var index: Int, count: Int
    public init(dataset: String, index: Int, count: Int) {
        self.dataset = dataset
        self.index = index
        self.count = count
    }
    public var description: String { "\(dataset) shard \(index + 1)/\(count)" }

    /// The contiguous block of sample indices this shard owns out of `samples`:
    /// [index*n/count, (index+1)*n/count). Every sample is in exactly one shard.
    public func range(samples n: Int) -> Range<Int> {
        (index * n / count) ..< ((index + 1) * n / count)
    }
}
