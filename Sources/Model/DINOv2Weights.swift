// DINOv2Weights.swift — DINOv2 weights from any supported file, checked by name and shape.
//
// Files are recognised by content, never by extension:
//   * safetensors: HuggingFace hub (`embeddings.*`, `encoder.layer.i.*`, optional
//     `dinov2.` prefix) or ctpipe checkpoints (`backbone.<official name>`, config
//     in the `ctpipe.config` metadata);
//   * PyTorch zip (`torch.save`): the facebookresearch release (official names), an
//     MMSegmentation / Rein checkpoint (`state_dict` with `backbone.` names), or an
//     HF `pytorch_model.bin`.
// Inside a `backbone.` namespace, `backbone.reins.*` (adapter) and everything
// outside the namespace (`decode_head.*`, ...) belong to other stages and are
// not read here. Every other tensor must be expected: a missing, extra or
// mis-shaped tensor fails naming it, with the expected and found shapes.
// Names map official <-> HF as method.md §1 lists; HF's separate q/k/v are
// concatenated into the official qkv (rows [q; k; v]).

import CTCore
import Foundation
import Tensor

/// Choices that the weights themselves cannot carry.
public struct WeightLoadOptions: Sendable, Equatable {
    /// Attention heads (default: config.json / ctpipe metadata / C / 64).
    public var heads: Int?
    /// Position-grid resize (default: antialiased with registers, offset without).
    public var interpolation: PositionInterpolation?

    public init(heads: Int? = nil, interpolation: PositionInterpolation? = nil) {
        self.heads = heads
        self.interpolation = interpolation
    }
}

/// What a file turned out to be.
public enum WeightFileKind: String, Sendable {
    case officialPth = "facebookresearch .pth"
    case mmsegPth = "MMSegmentation .pth"
    case huggingFacePth = "HuggingFace .bin/.pth"
    case huggingFaceSafetensors = "HuggingFace safetensors"
    case ctpipeSafetensors = "ctpipe safetensors"
    case officialSafetensors = "safetensors with official names"
}

/// A loaded backbone and where it came from.
public struct LoadedBackbone: Sendable {
    public var model: DINOv2
    public var kind: WeightFileKind
}

public enum DINOv2Weights {
    /// The metadata key of ctpipe checkpoints holding the JSON configuration (method.md §6).
    public static let configKey = "ctpipe.config"

    /// Loads a DINOv2 backbone from `path` (format chosen by content).
    public static func load(_ path: String, options: WeightLoadOptions = .init()) throws(WeightError) -> LoadedBackbone {
        let file = try MappedFile(path: path)
        var tensors: [String: Tensor]
        var hints = options
        var fromSafetensors = false
        var container = ""
        if SafeTensors.sniff(file.bytes) {
            let parsed = try SafeTensors.parse(file.bytes, path: path, afterCopy: file.release)
            tensors = parsed.tensors
            fromSafetensors = true
            if let json = parsed.metadata[configKey] {
                let stored = try storedConfig(json, path: path)
                hints.heads = hints.heads ?? stored?.heads
                hints.interpolation = hints.interpolation ?? stored?.interpolation
            }
        } else if TorchCheckpoint.sniff(file.bytes) || (file.count >= 2 && file.bytes[0] == 0x80) {
            let contents = try TorchCheckpoint.parse(file.bytes, path: path, afterCopy: file.release)
            tensors = contents.tensors
            container = contents.container
        } else {
            throw WeightError(path: path, reason: "neither a safetensors file nor a PyTorch (torch.save zip) checkpoint")
        }
        let (scoped, prefix) = backboneScope(tensors)
        tensors = [:]
        let naming = Naming(of: scoped)
        if naming == .huggingFace, hints.heads == nil { hints.heads = try huggingFaceHeads(nextTo: path) }
        let kind: WeightFileKind = switch (fromSafetensors, naming, prefix) {
        case (true, .huggingFace, _): .huggingFaceSafetensors
        case (true, .official, "backbone."): .ctpipeSafetensors
        case (true, .official, _): .officialSafetensors
        case (false, .huggingFace, _): .huggingFacePth
        case (false, .official, "backbone."): .mmsegPth
        case (false, .official, _): container == "state_dict" ? .mmsegPth : .officialPth
        }
        let model = try build(consume scoped, naming: naming, prefix: prefix, path: path, options: hints)
        return LoadedBackbone(model: model, kind: kind)
    }

    /// Tensor naming conventions.
    public enum Naming: Sendable {
        case official, huggingFace

        /// The convention of a backbone's tensors (prefix already removed).
        init<Value>(of scoped: [String: Value]) {
            self = scoped["embeddings.cls_token"] != nil || scoped["embeddings.patch_embeddings.projection.weight"] != nil
                ? .huggingFace : .official
        }
    }

    /// Keeps the backbone's tensors (or their shapes): those under `backbone.` (minus `backbone.reins.`) or
    /// `dinov2.` when such a prefix is in use, with the prefix removed.
    static func backboneScope<Value>(_ tensors: [String: Value]) -> ([String: Value], String) {
        for prefix in ["backbone.", "dinov2."] where tensors.keys.contains(where: { $0.hasPrefix(prefix) }) {
            var scoped: [String: Value] = [:]
            for (name, t) in tensors where name.hasPrefix(prefix) && !name.hasPrefix("backbone.reins.") {
                scoped[String(name.dropFirst(prefix.count))] = t
            }
            return (scoped, prefix)
        }
        return (tensors, "")
    }

    /// The most bytes read from a `config.json` beside HF weights (a real one is under 1 KiB).
    static let huggingFaceConfigLimit = 1 << 20

    /// `num_attention_heads` from an HF config.json beside the weights, if there is one.
    /// One that is there but cannot be read (a FIFO, socket or device, over 1 MiB,
    /// unreadable) is refused, naming it; one that does not state the heads is ignored.
    static func huggingFaceHeads(nextTo path: String) throws(WeightError) -> Int? {
        let config = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: config) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(config, limit: huggingFaceConfigLimit) } catch {
            throw WeightError(path: config, reason: error.reason + " (read for the attention heads of \(path))")
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        return (json["num_attention_heads"] as? NSNumber)?.intValue
    }

    /// The backbone part of a ctpipe `ctpipe.config` JSON: `{"backbone": {...DINOv2Config...}}`
    /// (a backbone file), or a whole model configuration (a checkpoint holding its backbone).
    /// Read strictly (`StoredConfigKeys`): a key this version does not know is refused by name.
    static func storedConfig(_ json: String, path: String) throws(WeightError) -> DINOv2Config? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw WeightError(path: path, reason: "metadata \(configKey) is not a JSON object")
        }
        if let unknown = StoredConfigKeys.unknownKey(object, StoredConfigKeys.ctpipeFile(object), path: "") {
            throw WeightError(path: path, reason: "metadata '\(configKey)' has the setting '\(unknown)', which this ctpipe does not know (written by a newer version?); refusing to run the model as something else")
        }
        guard let backbone = object["backbone"],
              let data = try? JSONSerialization.data(withJSONObject: backbone) else { return nil }
        do { return try JSONDecoder().decode(DINOv2Config.self, from: data) } catch {
            throw WeightError(path: path, reason: "metadata \(configKey).backbone is not a backbone configuration: \(error)")
        }
    }

    /// The file-side name(s) of an official tensor name.
    static func sourceNames(_ official: String, naming: Naming) -> [String] {
        guard naming == .huggingFace else { return [official] }
        let fixed: [String: String] = [
            "cls_token": "embeddings.cls_token", "pos_embed": "embeddings.position_embeddings",
            "register_tokens": "embeddings.register_tokens", "mask_token": "embeddings.mask_token",
            "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
            "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
            "norm.weight": "layernorm.weight", "norm.bias": "layernorm.bias",
        ]
        if let name = fixed[official] { return [name] }
        let parts = official.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blocks" else { return [official] }
        let layer = "encoder.layer.\(parts[1])."
        switch parts[2] {
        case "attn.qkv.weight", "attn.qkv.bias":
            let kind = parts[2].hasSuffix("weight") ? "weight" : "bias"
            return ["query", "key", "value"].map { layer + "attention.attention.\($0).\(kind)" }
        case "attn.proj.weight": return [layer + "attention.output.dense.weight"]
        case "attn.proj.bias": return [layer + "attention.output.dense.bias"]
        case "ls1.gamma": return [layer + "layer_scale1.lambda1"]
        case "ls2.gamma": return [layer + "layer_scale2.lambda1"]
        case "mlp.w12.weight": return [layer + "mlp.weights_in.weight"]
        case "mlp.w12.bias": return [layer + "mlp.weights_in.bias"]
        case "mlp.w3.weight": return [layer + "mlp.weights_out.weight"]
        case "mlp.w3.bias": return [layer + "mlp.weights_out.bias"]
        default: return [layer + parts[2]]   // norm1.*, norm2.*, mlp.fc1.*, mlp.fc2.*
        }
    }

    /// Every tensor of a configuration, official names, with its shape (the backbone's parameter walk).
    /// Optional, and not listed: mask_token.
    public static func expectedShapes(_ c: DINOv2Config) -> [(name: String, shape: [Int])] {
        DINOv2(config: c).parameterInfos().map { ($0.name, $0.shape) }
    }

    /// Builds the model from file-side tensors (prefix already removed).
    /// The file's tensors are released as they are copied into the model (see ParameterReader).
    public static func build(_ tensors: consuming [String: Tensor], naming: Naming, prefix: String = "", path: String,
                             options: WeightLoadOptions = .init()) throws(WeightError) -> DINOv2 {
        let config = try architecture(tensors, naming: naming, prefix: prefix, path: path, options: options)
        let mask = sourceNames("mask_token", naming: naming)[0]
        if let t = tensors[mask], !(t.shape == [1, config.embedDim] || t.shape == [1, 1, config.embedDim]) {
            throw WeightError(path: path, tensor: prefix + mask, reason: "expected shape [1, \(config.embedDim)], found \(t.shapeDescription)")
        }
        // Every tensor the walk expects, by name and shape; then nothing left over.
        var reader = ParameterReader(tensors: consume tensors, path: path, shown: { prefix + $0 },
                                     sourceNames: { sourceNames($0, naming: naming) })
        var model = DINOv2(config: config)
        try model.readParameters(from: &reader)
        if let extra = reader.unused.first(where: { $0 != mask }) {
            throw WeightError(path: path, tensor: prefix + extra,
                              reason: "unexpected for a \(config.depth)-block DINOv2 with C = \(config.embedDim) (shape \(reader.tensors[extra]!.shapeDescription))")
        }
        return model
    }

    /// The architecture the tensors' names and shapes describe.
    static func architecture(_ tensors: borrowing [String: Tensor], naming: Naming, prefix: String, path: String,
                             options: WeightLoadOptions) throws(WeightError) -> DINOv2Config {
        func shown(_ name: String) -> String { prefix + name }
        func require(_ official: String) throws(WeightError) -> Tensor {
            let name = sourceNames(official, naming: naming)[0]
            guard let t = tensors[name] else { throw WeightError(path: path, tensor: shown(name), reason: "missing") }
            return t
        }
        // Architecture from shapes.
        let patch = try require("patch_embed.proj.weight")
        guard patch.shape.count == 4, patch.shape[1] == 3, patch.shape[2] == patch.shape[3] else {
            throw WeightError(path: path, tensor: shown(sourceNames("patch_embed.proj.weight", naming: naming)[0]),
                              reason: "expected shape [C, 3, p, p], found \(patch.shapeDescription)")
        }
        let c = patch.shape[0], p = patch.shape[2]
        let pos = try require("pos_embed")
        let positions = pos.count / max(c, 1) - 1
        let g = Int(Double(max(positions, 0)).squareRoot().rounded())
        guard pos.shape.count == 3, pos.shape[0] == 1, pos.shape[2] == c, g * g == positions else {
            throw WeightError(path: path, tensor: shown(sourceNames("pos_embed", naming: naming)[0]),
                              reason: "expected shape [1, 1 + G*G, \(c)], found \(pos.shapeDescription)")
        }
        let registerName = sourceNames("register_tokens", naming: naming)[0]
        let registers = tensors[registerName].map { $0.shape.count == 3 ? $0.shape[1] : -1 } ?? 0
        guard registers >= 0 else {
            throw WeightError(path: path, tensor: shown(registerName),
                              reason: "expected shape [1, R, \(c)], found \(tensors[registerName]!.shapeDescription)")
        }
        let blockPrefix = naming == .official ? "blocks." : "encoder.layer."
        // The depth is the number of distinct block indices; an index beyond them (a gap, or a
        // stray `blocks.99999999999.*`) is refused here, before anything is sized by it.
        var indices = Set<Int>()
        var named: [Int: String] = [:]
        for name in tensors.keys where name.hasPrefix(blockPrefix) {
            if let i = Int(name.dropFirst(blockPrefix.count).prefix(while: { $0 != "." })) {
                indices.insert(i)
                named[i] = name
            }
        }
        let depth = indices.count
        if let bad = indices.first(where: { $0 < 0 || $0 >= depth }) {
            throw WeightError(path: path, tensor: shown(named[bad]!),
                              reason: "block index \(bad) but \(depth) blocks present; block indices must run 0 ..< \(depth)")
        }
        guard depth > 0 else { throw WeightError(path: path, reason: "no transformer blocks (\(blockPrefix)0.* missing)") }
        let ffn: FeedForwardKind, hidden: Int
        if let fc1 = tensors[sourceNames("blocks.0.mlp.fc1.weight", naming: naming)[0]] {
            ffn = .mlp
            hidden = fc1.shape.first ?? 0
        } else if let w12 = tensors[sourceNames("blocks.0.mlp.w12.weight", naming: naming)[0]] {
            ffn = .swiglu
            hidden = (w12.shape.first ?? 0) / 2
        } else {
            throw WeightError(path: path, tensor: shown(sourceNames("blocks.0.mlp.fc1.weight", naming: naming)[0]),
                              reason: "missing (neither an MLP nor a SwiGLU feed-forward layer found in block 0)")
        }
        let heads = options.heads ?? max(1, c / 64)
        guard heads > 0, c % heads == 0 else {
            throw WeightError(path: path, reason: "embedding width \(c) is not divisible by \(heads) heads")
        }
        return DINOv2Config(embedDim: c, depth: depth, heads: heads, patchSize: p, registers: registers,
                            gridSize: g, ffnHidden: hidden, ffn: ffn, interpolation: options.interpolation)
    }

    /// The model's tensors under official names.
    public static func officialStateDict(_ m: DINOv2) -> [String: Tensor] { m.stateDict() }

    /// A ctpipe safetensors file of the backbone: `backbone.<official name>`, configuration in the metadata.
    public static func ctpipeFile(_ m: DINOv2) -> SafeTensorsFile {
        var tensors: [String: Tensor] = [:]
        for (name, t) in officialStateDict(m) { tensors["backbone." + name] = t }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let config = (try? encoder.encode(["backbone": m.config])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return SafeTensorsFile(tensors: tensors, metadata: [configKey: config])
    }
}
