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
    static let reins = "backbone.reins."
    static let head = "decode_head."

    /// The tensors and metadata of a checkpoint. The backbone is embedded when `embedBackbone`
    /// or the configuration says it is trainable; otherwise `backboneReference` (or the
    /// configuration's `backbone_weights`) must name the backbone file.
    public static func file(_ model: SegmentationModel, embedBackbone: Bool, backboneReference: String? = nil) -> SafeTensorsFile {
        var config = model.config
        var tensors: [String: Tensor] = [:]
        let embed = embedBackbone || config.trainable
        if embed {
            for (name, t) in DINOv2Weights.officialStateDict(model.backbone) { tensors["backbone." + name] = t }
            config.backboneWeights = nil
        } else if let backboneReference {
            config.backboneWeights = backboneReference
        }
        if let a = model.adapter {
            if let t = a.tokens { tensors[reins + "learnable_tokens"] = t }
            if let t = a.tokensA { tensors[reins + "learnable_tokens_a"] = t }
            if let t = a.tokensB { tensors[reins + "learnable_tokens_b"] = t }
            tensors[reins + "scale"] = Tensor(shape: [], storage: [a.scale])
            tensors[reins + "mlp_token2feat.weight"] = a.tokenToFeature.weight
            tensors[reins + "mlp_token2feat.bias"] = a.tokenToFeature.bias
            tensors[reins + "mlp_delta_f.weight"] = a.deltaFeature.weight
            tensors[reins + "mlp_delta_f.bias"] = a.deltaFeature.bias
        }
        for (j, norm) in model.head.norms.enumerated() {
            tensors[head + "norms.\(j).weight"] = norm.weight
            tensors[head + "norms.\(j).bias"] = norm.bias
        }
        let w = model.head.classifier.weight
        tensors[head + "conv_seg.weight"] = w.reshaped([w.shape[0], w.shape[1], 1, 1])
        tensors[head + "conv_seg.bias"] = model.head.classifier.bias
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
        do { return try JSONDecoder().decode(SegmentationConfig.self, from: Data(json.utf8)) } catch {
            throw WeightError(path: path, reason: "metadata '\(DINOv2Weights.configKey)' is not a model configuration: \(error)")
        }
    }

    /// Rebuilds the model a checkpoint describes.
    public static func load(_ path: String, options: CheckpointLoadOptions = .init()) throws(WeightError) -> SegmentationModel {
        let parsed = try SafeTensors.read(path)
        var config = try config(of: parsed, path: path)
        if let problem = config.problems().first { throw WeightError(path: path, reason: "configuration: \(problem)") }

        // Backbone: override, embedded, or referenced.
        let embedded = parsed.tensors.keys.contains { $0.hasPrefix("backbone.") && !$0.hasPrefix(reins) }
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

        // Adapter and head tensors, each expected by name and shape.
        let c = b.embedDim, l = b.depth, m = config.adapter.tokens, r = config.adapter.rank
        let j = config.head.blocks.count, k = config.head.classes
        var used = Set<String>()
        func take(_ name: String, _ shapes: [[Int]]) throws(WeightError) -> Tensor {
            guard let t = parsed.tensors[name] else {
                throw WeightError(path: path, tensor: name, reason: "missing (expected shape \(describe(shapes[0])))")
            }
            guard shapes.contains(t.shape) else {
                throw WeightError(path: path, tensor: name, reason: "expected shape \(describe(shapes[0])), found \(t.shapeDescription)")
            }
            used.insert(name)
            return t.reshaped(shapes[0])
        }
        var adapter: CausalTuneAdapter?
        if config.adapter.kind != .none {
            let tokens = r == 0 ? try take(reins + "learnable_tokens", [[l, m, c]]) : nil
            let a = r == 0 ? nil : try take(reins + "learnable_tokens_a", [[l, m, r]])
            let bb = r == 0 ? nil : try take(reins + "learnable_tokens_b", [[l, r, c]])
            let scale = try take(reins + "scale", [[], [1]])
            let t2f = Linear(weight: try take(reins + "mlp_token2feat.weight", [[c, c]]), bias: try take(reins + "mlp_token2feat.bias", [[c]]))
            let df = Linear(weight: try take(reins + "mlp_delta_f.weight", [[c, c]]), bias: try take(reins + "mlp_delta_f.bias", [[c]]))
            do {
                adapter = try CausalTuneAdapter(config: config.adapter, layers: l, embedDim: c, tokens: tokens, tokensA: a, tokensB: bb,
                                                scale: scale.storage[0], tokenToFeature: t2f, deltaFeature: df)
            } catch { throw WeightError(path: path, reason: error.reason) }
        }
        var norms: [LayerNorm] = []
        for i in 0 ..< j {
            norms.append(LayerNorm(weight: try take(head + "norms.\(i).weight", [[c]]), bias: try take(head + "norms.\(i).bias", [[c]]),
                                   eps: config.head.layerNormEps))
        }
        let classifier = Linear(weight: try take(head + "conv_seg.weight", [[k, j * c], [k, j * c, 1, 1]]),
                                bias: try take(head + "conv_seg.bias", [[k]]))
        if let extra = parsed.tensors.keys.filter({ !used.contains($0) && ($0.hasPrefix(reins) || !$0.hasPrefix("backbone.")) }).sorted().first {
            throw WeightError(path: path, tensor: extra,
                              reason: "unexpected for a \(config.adapter.kind.rawValue) adapter (\(r == 0 ? "full" : "rank-\(r)") tokens) with a \(j)-block linear head (shape \(parsed.tensors[extra]!.shapeDescription))")
        }
        do {
            let h = try LinearHead(config: config.head, embedDim: c, norms: norms, classifier: classifier)
            return try SegmentationModel(config: config, backbone: backbone, adapter: adapter, head: h)
        } catch { throw WeightError(path: path, reason: error.reason) }
    }

    static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
