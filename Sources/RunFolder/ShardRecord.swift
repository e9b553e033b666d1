// ShardRecord.swift — the completion record of one shard, the last file a shard
// writes: the runner's resume mark, merged into metrics.json, read by reports.

import Metrics

/// The completion record of one shard (`shards/<dataset>/<k>-of-<N>.json`).
public struct ShardRecord: Codable, Sendable {
    public var configurationHash: String
    public var dataset: String
    public var shard: Int
    public var shards: Int
    /// Sample ids processed successfully, in order.
    public var ids: [String]
    /// Samples skipped under `on_error: skip`.
    public var skipped: [RunProblem]
    public var metrics: MetricsReport
    /// Per-image scores, in sample order (ShardGallery.swift); absent in records of older versions.
    public var scores: [SampleScore]? = nil
    /// Ids with gallery thumbnails (the shard's worst images per group).
    public var gallery: [String]? = nil
    /// The process that evaluated the shard in a job of several (mpirun/srun); absent for one process.
    public var rank: Int? = nil

    enum CodingKeys: String, CodingKey {
        case configurationHash = "configuration_hash", dataset, shard, shards, ids, skipped, metrics, scores, gallery, rank
    }

    public init(configurationHash: String, dataset: String, shard: Int, shards: Int, ids: [String], skipped: [RunProblem],
                metrics: MetricsReport) {
        self.configurationHash = configurationHash
        self.dataset = dataset
        self.shard = shard
        self.shards = shards
        self.ids = ids
        self.skipped = skipped
        self.metrics = metrics
    }
}
