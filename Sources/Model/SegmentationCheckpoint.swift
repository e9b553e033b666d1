// SegmentationCheckpoint.swift — ctpipe checkpoints (method.md §6): one
// safetensors file with Rein / Causal-Tune MMSegmentation tensor names and the
// SegmentationConfig as JSON under the metadata key `ctpipe.config`.
//
//   backbone.<official DINOv2 name>        only when embedded (or trainable)
//   backbone.reins.learnable_tokens        (L, m, C)          full tokens
//   backbone.reins.learnable_tokens_a/_b   (L, m, r), (L, r, C) low rank
//   backbone.reins.scale                   []  (read: [] or [1])
//   backbone.reins.mlp_token2feat.{weight,bias}, backbone.reins.mlp_delta_f.{weight,bias}
//   decode_head.norms.{j}.{weight,bias}    (C) per head block
//   decode_head.conv_seg.{weight,bias}     (K, J·C, 1, 1), (K)   (read: also (K, J·C))
//
// Without embedded backbone tensors, `backbone_weights` in the configuration
// names the backbone file (relative paths resolve against the checkpoint's
// folder). Every tensor is checked by name and shape; a missing, extra or
// mis-shaped one fails naming it.

import Foundation
import Tensor

/// Choices when loading a checkpoint.
public struct CheckpointLoadOptions: Sendable, Equatable {
    /// Use this backbone weight file instead of the embedded or referenced one.
    public var backboneWeights: String?
    public init(backboneWeights: String? = nil) { self.backboneWeights = backboneWeights }
}

public enum SegmentationCheckpoint {

    /// The tensors and metadata of a checkpoint. The backbone is embedded when `embedBackbone`
    /// or the configuration says it is trainable; otherwise `backboneReference` (or the
    /// configuration's `backbone_weights`) must name the backbone file.
    public static func file(_ model: SegmentationModel, embedBackbone: Bool, backboneReference: String? = nil) -> SafeTensorsFile {
        var config = model.config
        let embed = embedBackbone || config.trainable
        if embed {
            config.backboneWeights = nil
        } else if let backboneReference {
            config.backboneWeights = backboneReference
        }
        let tensors = model.stateDict(where: { embed || !SegmentationModel.isBackboneParameter($0.name) })
        return SafeTensorsFile(tensors: tensors, metadata: [DINOv2Weights.configKey: config.json()])
    }

    /// Writes a checkpoint atomically.
    public static func save(_ model: SegmentationModel, to path: String, embedBackbone: Bool,
                            backboneReference: String? = nil) throws(WeightError) {
        if !(embedBackbone || model.config.trainable), backboneReference ?? model.config.backboneWeights == nil {
            throw WeightError(path: path, reason: "the backbone is neither embedded nor referenced by a weight file path; the checkpoint could not rebuild the model")
        }
        try SafeTensors.write(file(model, embedBackbone: embedBackbone, backboneReference: backboneReference), to: path)
    }

    /// The configuration stored in a checkpoint's metadata.
    public static func config(of parsed: SafeTensorsFile, path: String) throws(WeightError) -> SegmentationConfig {
        guard let json = parsed.metadata[DINOv2Weights.configKey] else {
            throw WeightError(path: path, reason: "not a ctpipe checkpoint: no '\(DINOv2Weights.configKey)' metadata (backbone weights alone go to --weights)")
        }
        if Mask2FormerModel.describes(configJSON: json) {
            throw WeightError(path: path, reason: "a Mask2Former model (converted from MMSegmentation): run it with `ctpipe infer` or a manifest's head mask2former; it has no linear head")
        }
        if let unknown = StoredConfigKeys.unknownKey(in: json, schema: StoredConfigKeys.segmentation) {
            throw WeightError(path: path, reason: "metadata '\(DINOv2Weights.configKey)' has the setting '\(unknown)', which this ctpipe does not know (written by a newer version?); refusing to run the model as something else")
        }
        do { return try JSONDecoder().decode(SegmentationConfig.self, from: Data(json.utf8)) } catch let DecodingError.dataCorrupted(context) {
            // A value the configuration refuses (e.g. an unknown adapter transform): its path and the reason.
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw WeightError(path: path, reason: "metadata '\(DINOv2Weights.configKey)': \(field.isEmpty ? "" : field + ": ")\(context.debugDescription)")
        } catch {
            throw WeightError(path: path, reason: "metadata '\(DINOv2Weights.configKey)' is not a model configuration: \(error)")
        }
    }

    /// Rebuilds the model a checkpoint describes.
    public static func load(_ path: String, options: CheckpointLoadOptions = .init()) throws(WeightError) -> SegmentationModel {
        let parsed = try SafeTensors.read(path)
        var config = try config(of: parsed, path: path)
        if let problem = config.problems().first { throw WeightError(path: path, reason: "configuration: \(problem)") }

        // Backbone: override, embedded, or referenced.
        let embedded = parsed.tensors.keys.contains(where: SegmentationModel.isBackboneParameter)
        let backbonePath: String
        if let override = options.backboneWeights {
            backbonePath = override
        } else if embedded {
            backbonePath = path
        } else if let reference = config.backboneWeights {
            backbonePath = reference.hasPrefix("/") ? reference
                : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(reference).standardizedFileURL.path
        } else {
            throw WeightError(path: path, reason: "the checkpoint neither embeds backbone tensors nor names a backbone weight file ('backbone_weights'); give the backbone weights explicitly")
        }
        let backbone = try DINOv2Weights.load(backbonePath, options: WeightLoadOptions(heads: config.backbone.heads,
                                                                                     interpolation: config.backbone.interpolation)).model
        let b = backbone.config, s = config.backbone
        guard b.embedDim == s.embedDim, b.depth == s.depth, b.patchSize == s.patchSize, b.registers == s.registers else {
            throw WeightError(path: backbonePath, reason: "backbone (C \(b.embedDim), \(b.depth) blocks, patch \(b.patchSize), \(b.registers) registers) does not match the checkpoint \(path) (C \(s.embedDim), \(s.depth) blocks, patch \(s.patchSize), \(s.registers) registers)")
        }
        if backbonePath != path { config.backboneWeights = backbonePath }

        // Adapter and head tensors, each expected by name and shape (their parameter walks).
        var reader = ParameterReader(tensors: parsed.tensors.filter { !SegmentationModel.isBackboneParameter($0.key) }, path: path)
        var adapter: CausalTuneAdapter?, head: LinearHead
        do {
            adapter = config.adapter.kind == .none ? nil
                : try CausalTuneAdapter(config: config.adapter, layers: b.depth, embedDim: b.embedDim)
            head = try LinearHead(config: config.head, embedDim: b.embedDim)
        } catch { throw WeightError(path: path, reason: error.reason) }
        if adapter != nil { try adapter!.readParameters(SegmentationModel.adapterScope, from: &reader) }
        try head.readParameters(SegmentationModel.headScope, from: &reader)
        if let extra = reader.unused.first {
            let r = config.adapter.rank
            throw WeightError(path: path, tensor: extra,
                              reason: "unexpected for a \(config.adapter.kind.rawValue) adapter (\(r == 0 ? "full" : "rank-\(r)") tokens) with a \(config.head.blocks.count)-block linear head (shape \(reader.tensors[extra]!.shapeDescription))")
        }
        do { return try SegmentationModel(config: config, backbone: backbone, adapter: adapter, head: head) } catch {
            throw WeightError(path: path, reason: error.reason)
        }
    }
}
