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
        let naming: Naming = scoped["embeddings.cls_token"] != nil || scoped["embeddings.patch_embeddings.projection.weight"] != nil
            ? .huggingFace : .official
        if naming == .huggingFace, hints.heads == nil { hints.heads = huggingFaceHeads(nextTo: path) }
        let kind: WeightFileKind = switch (fromSafetensors, naming, prefix) {
        case (true, .huggingFace, _): .huggingFaceSafetensors
        case (true, .official, "backbone."): .ctpipeSafetensors
        case (true, .official, _): .officialSafetensors
        case (false, .huggingFace, _): .huggingFacePth
        case (false, .official, "backbone."): .mmsegPth
        case (false, .official, _): container == "state_dict" ? .mmsegPth : .officialPth
        }
        tensors = scoped
        let model = try build(tensors, naming: naming, prefix: prefix, path: path, options: hints)
        return LoadedBackbone(model: model, kind: kind)
    }

    /// Tensor naming conventions.
    public enum Naming: Sendable { case official, huggingFace }

    /// Keeps the backbone's tensors: those under `backbone.` (minus `backbone.reins.`) or
    /// `dinov2.` when such a prefix is in use, with the prefix removed.
    static func backboneScope(_ tensors: [String: Tensor]) -> ([String: Tensor], String) {
        for prefix in ["backbone.", "dinov2."] where tensors.keys.contains(where: { $0.hasPrefix(prefix) }) {
            var scoped: [String: Tensor] = [:]
            for (name, t) in tensors where name.hasPrefix(prefix) && !name.hasPrefix("backbone.reins.") {
                scoped[String(name.dropFirst(prefix.count))] = t
            }
            return (scoped, prefix)
        }
        return (tensors, "")
    }

    /// `num_attention_heads` from an HF config.json beside the weights, if there is one.
    static func huggingFaceHeads(nextTo path: String) -> Int? {
        let config = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("config.json")
        guard let data = try? Data(contentsOf: config),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return (json["num_attention_heads"] as? NSNumber)?.intValue
    }

    /// The backbone part of a ctpipe `ctpipe.config` JSON: `{"backbone": {...DINOv2Config...}}`.
    static func storedConfig(_ json: String, path: String) throws(WeightError) -> DINOv2Config? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw WeightError(path: path, reason: "metadata \(configKey) is not a JSON object")
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

    /// Every tensor of a configuration, official names, with its shape. Optional: mask_token.
    public static func expectedShapes(_ c: DINOv2Config) -> [(name: String, shape: [Int])] {
        let d = c.embedDim, p = c.patchSize, h = c.ffnHidden
        var list: [(String, [Int])] = [("cls_token", [1, 1, d]), ("pos_embed", [1, 1 + c.gridSize * c.gridSize, d])]
        if c.registers > 0 { list.append(("register_tokens", [1, c.registers, d])) }
        list += [("patch_embed.proj.weight", [d, 3, p, p]), ("patch_embed.proj.bias", [d])]
        for i in 0 ..< c.depth {
            let b = "blocks.\(i)."
            list += [(b + "norm1.weight", [d]), (b + "norm1.bias", [d]),
                     (b + "attn.qkv.weight", [3 * d, d]), (b + "attn.qkv.bias", [3 * d]),
                     (b + "attn.proj.weight", [d, d]), (b + "attn.proj.bias", [d]),
                     (b + "ls1.gamma", [d]), (b + "norm2.weight", [d]), (b + "norm2.bias", [d])]
            switch c.ffn {
            case .mlp:
                list += [(b + "mlp.fc1.weight", [h, d]), (b + "mlp.fc1.bias", [h]),
                         (b + "mlp.fc2.weight", [d, h]), (b + "mlp.fc2.bias", [d])]
            case .swiglu:
                list += [(b + "mlp.w12.weight", [2 * h, d]), (b + "mlp.w12.bias", [2 * h]),
                         (b + "mlp.w3.weight", [d, h]), (b + "mlp.w3.bias", [d])]
            }
            list.append((b + "ls2.gamma", [d]))
        }
        list += [("norm.weight", [d]), ("norm.bias", [d])]
        return list
    }

    /// Builds the model from file-side tensors (prefix already removed).
    public static func build(_ tensors: [String: Tensor], naming: Naming, prefix: String = "", path: String,
                             options: WeightLoadOptions = .init()) throws(WeightError) -> DINOv2 {
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
        var depth = 0
        for name in tensors.keys where name.hasPrefix(blockPrefix) {
            if let i = Int(name.dropFirst(blockPrefix.count).prefix(while: { $0 != "." })) { depth = max(depth, i + 1) }
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
        let config = DINOv2Config(embedDim: c, depth: depth, heads: heads, patchSize: p, registers: registers,
                                  gridSize: g, ffnHidden: hidden, ffn: ffn, interpolation: options.interpolation)

        // Every expected tensor, by name and shape; then nothing left over.
        var used = Set<String>()
        var canonical: [String: Tensor] = [:]
        for (official, shape) in expectedShapes(config) {
            let names = sourceNames(official, naming: naming)
            let partShape = names.count == 1 ? shape : [shape[0] / names.count] + shape.dropFirst()
            var parts: [Tensor] = []
            for name in names {
                guard let t = tensors[name] else {
                    throw WeightError(path: path, tensor: shown(name), reason: "missing (expected shape \(describe(partShape)))")
                }
                guard t.shape == partShape else {
                    throw WeightError(path: path, tensor: shown(name),
                                      reason: "expected shape \(describe(partShape)), found \(t.shapeDescription)")
                }
                used.insert(name)
                parts.append(t)
            }
            canonical[official] = parts.count == 1 ? parts[0] : Tensor(shape: shape, storage: parts.flatMap(\.storage))
        }
        let mask = sourceNames("mask_token", naming: naming)[0]
        if let t = tensors[mask] {
            guard t.shape == [1, c] || t.shape == [1, 1, c] else {
                throw WeightError(path: path, tensor: shown(mask), reason: "expected shape [1, \(c)], found \(t.shapeDescription)")
            }
            used.insert(mask)
        }
        if let extra = tensors.keys.filter({ !used.contains($0) }).sorted().first {
            throw WeightError(path: path, tensor: shown(extra),
                              reason: "unexpected for a \(config.depth)-block DINOv2 with C = \(c) (shape \(tensors[extra]!.shapeDescription))")
        }
        return assemble(canonical, config: config)
    }

    static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    /// The model from official-named, shape-checked tensors.
    static func assemble(_ t: [String: Tensor], config: DINOv2Config) -> DINOv2 {
        let eps = config.layerNormEps
        func linear(_ name: String) -> Linear { Linear(weight: t[name + ".weight"]!, bias: t[name + ".bias"]!) }
        func norm(_ name: String) -> LayerNorm { LayerNorm(weight: t[name + ".weight"]!, bias: t[name + ".bias"]!, eps: eps) }
        let blocks = (0 ..< config.depth).map { i in
            let b = "blocks.\(i)."
            let ffn: FeedForward = config.ffn == .mlp
                ? .mlp(fc1: linear(b + "mlp.fc1"), fc2: linear(b + "mlp.fc2"))
                : .swiglu(w12: linear(b + "mlp.w12"), w3: linear(b + "mlp.w3"))
            return Block(norm1: norm(b + "norm1"),
                         attention: Attention(heads: config.heads, qkv: linear(b + "attn.qkv"), proj: linear(b + "attn.proj")),
                         ls1: t[b + "ls1.gamma"]!, norm2: norm(b + "norm2"), ffn: ffn, ls2: t[b + "ls2.gamma"]!)
        }
        return DINOv2(config: config,
                      patchEmbed: PatchEmbedding(weight: t["patch_embed.proj.weight"]!, bias: t["patch_embed.proj.bias"]!),
                      clsToken: t["cls_token"]!, registerTokens: t["register_tokens"], posEmbed: t["pos_embed"]!,
                      blocks: blocks, norm: norm("norm"))
    }

    /// The model's tensors under official names (what `assemble` takes back).
    public static func officialStateDict(_ m: DINOv2) -> [String: Tensor] {
        var t: [String: Tensor] = ["cls_token": m.clsToken, "pos_embed": m.posEmbed,
                                   "patch_embed.proj.weight": m.patchEmbed.weight, "patch_embed.proj.bias": m.patchEmbed.bias,
                                   "norm.weight": m.norm.weight, "norm.bias": m.norm.bias]
        if let r = m.registerTokens { t["register_tokens"] = r }
        for (i, block) in m.blocks.enumerated() {
            let b = "blocks.\(i)."
            func put(_ name: String, _ l: Linear) { t[b + name + ".weight"] = l.weight; t[b + name + ".bias"] = l.bias }
            t[b + "norm1.weight"] = block.norm1.weight; t[b + "norm1.bias"] = block.norm1.bias
            put("attn.qkv", block.attention.qkv)
            put("attn.proj", block.attention.proj)
            t[b + "ls1.gamma"] = block.ls1
            t[b + "norm2.weight"] = block.norm2.weight; t[b + "norm2.bias"] = block.norm2.bias
            switch block.ffn {
            case .mlp(let fc1, let fc2): put("mlp.fc1", fc1); put("mlp.fc2", fc2)
            case .swiglu(let w12, let w3): put("mlp.w12", w12); put("mlp.w3", w3)
            }
            t[b + "ls2.gamma"] = block.ls2
        }
        return t
    }

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
