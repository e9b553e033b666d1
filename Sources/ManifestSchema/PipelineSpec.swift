// PipelineSpec.swift — a reusable stage chain (pipelines/*.json) with defaults.

/// The stages a pipeline can chain, in data-flow order.
public enum StageKind: String, Sendable, CaseIterable, Codable {
    /// Dataset readers: list samples, decode images and labels.
    case read
    /// Training (crop/augment, forward/backward, AdamW) on the `train` datasets.
    case train
    /// Sliding-window inference with the manifest's model on the `eval` datasets.
    case infer
    /// Load existing prediction PNGs (manifest `predictions`) instead of inferring.
    case predictions
    /// Confusion matrices, IoU, mIoU per dataset: metrics.json, metrics.csv.
    case metric
    /// Label PNGs, colour masks, overlays, CVAT export.
    case write
}

/// A validated pipeline: an ordered stage list and the defaults it gives manifests.
public struct PipelineSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    public var stages: [StageKind]
    /// The `defaults` object: same shape as the manifest's `outputs`/`execution`/`seed`.
    public var defaults: [String: JSONValue]

    public func has(_ stage: StageKind) -> Bool { stages.contains(stage) }

    /// Order and dependency rules between stages; problems are reported at `path`.
    func check(at path: String, into reader: inout FieldReader) {
        guard stages.first == .read else {
            reader.report(path + ".stages", "the first stage must be \"read\"")
            return
        }
        if Set(stages).count != stages.count { reader.report(path + ".stages", "a stage is listed twice") }
        let order = StageKind.allCases
        let indices = stages.compactMap { order.firstIndex(of: $0) }
        if indices != indices.sorted() {
            reader.report(path + ".stages", "stages must follow the order \(order.map(\.rawValue).joined(separator: " -> "))")
        }
        if has(.infer) && has(.predictions) {
            reader.report(path + ".stages", "\"infer\" and \"predictions\" both produce predictions; keep one")
        }
        if (has(.metric) || has(.write)) && !(has(.infer) || has(.predictions)) {
            reader.report(path + ".stages", "\"metric\" and \"write\" need \"infer\" or \"predictions\" before them")
        }
    }
}
