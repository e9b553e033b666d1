// SegmentationConfig.swift — everything that defines a segmentation model:
// backbone architecture, adapter, head. It travels as JSON in the
// `ctpipe.config` metadata of a checkpoint (method.md §6), so a checkpoint
// alone rebuilds the model. The `backbone` key holds the DINOv2Config, which
// is what the backbone loader reads from the same metadata.

import Foundation

public struct SegmentationConfig: Sendable, Equatable, Codable {
    /// Version of this layout.
    public static let formatVersion = 1

    /// The released size the backbone came from (`vits14`, ..., `tiny`), informational.
    public var backboneName: String?
    public var backbone: DINOv2Config
    /// Backbone weight file when the checkpoint does not embed the backbone
    /// (absolute, or relative to the checkpoint's folder).
    public var backboneWeights: String?
    /// Full fine-tuning baseline (backbone trainable; its weights are then always embedded).
    public var trainable: Bool
    public var adapter: AdapterConfig
    public var head: LinearHeadConfig

    public init(backboneName: String? = nil, backbone: DINOv2Config, backboneWeights: String? = nil, trainable: Bool = false,
                adapter: AdapterConfig = AdapterConfig(), head: LinearHeadConfig? = nil) {
        self.backboneName = backboneName
        self.backbone = backbone
        self.backboneWeights = backboneWeights
        self.trainable = trainable
        self.adapter = adapter
        self.head = head ?? LinearHeadConfig(blocks: LinearHeadConfig.defaultBlocks(depth: backbone.depth))
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case version, backboneName = "backbone_name", backbone, backboneWeights = "backbone_weights", trainable, adapter, head
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decodeIfPresent(Int.self, forKey: .version) ?? Self.formatVersion
        guard version == Self.formatVersion else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c,
                                                   debugDescription: "configuration version \(version) is not supported (this ctpipe reads \(Self.formatVersion))")
        }
        backboneName = try c.decodeIfPresent(String.self, forKey: .backboneName)
        backbone = try c.decode(DINOv2Config.self, forKey: .backbone)
        backboneWeights = try c.decodeIfPresent(String.self, forKey: .backboneWeights)
        trainable = try c.decodeIfPresent(Bool.self, forKey: .trainable) ?? false
        adapter = try c.decodeIfPresent(AdapterConfig.self, forKey: .adapter) ?? AdapterConfig(kind: .none)
        head = try c.decodeIfPresent(LinearHeadConfig.self, forKey: .head) ?? LinearHeadConfig(blocks: LinearHeadConfig.defaultBlocks(depth: backbone.depth))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatVersion, forKey: .version)
        try c.encodeIfPresent(backboneName, forKey: .backboneName)
        try c.encode(backbone, forKey: .backbone)
        try c.encodeIfPresent(backboneWeights, forKey: .backboneWeights)
        try c.encode(trainable, forKey: .trainable)
        try c.encode(adapter, forKey: .adapter)
        try c.encode(head, forKey: .head)
    }

    /// Problems with the values, in words (empty when valid).
    public func problems() -> [String] {
        var out = adapter.problems()
        for b in head.blocks where b < 0 || b >= backbone.depth {
            out.append("head block \(b) does not exist (the backbone has blocks 0...\(backbone.depth - 1))")
        }
        if head.blocks.isEmpty { out.append("the head needs at least one block") }
        if head.classes < 1 || head.classes > 256 { out.append("classes must be 1...256, got \(head.classes)") }
        return out
    }

    /// Compact sorted-key JSON (what goes into `ctpipe.config`).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
