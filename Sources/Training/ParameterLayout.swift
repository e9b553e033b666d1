// ParameterLayout.swift — the trainable tensors of a segmentation model, in a
// fixed order, with their checkpoint names, shapes and weight-decay group.
//
// Order: adapter (tokens or A, B; s; MLP_t; MLP_f), head (norms, classifier),
// then — with a trainable backbone — cls token, position embedding, registers,
// patch embedding and every block up to the last one the head reads (later
// blocks and the final norm do not reach the loss and are left out, as
// PyTorch's AdamW skips parameters without a gradient).
// Decay groups (method.md §4): no weight decay on norms (every LayerNorm),
// adapter tokens and s; everything else decays.

import Model
import Tensor

/// One trainable tensor.
public struct ParameterSpec: Sendable, Equatable {
    /// The checkpoint name (method.md §6).
    public let name: String
    public let shape: [Int]
    /// In the weight-decay group.
    public let decay: Bool
    public var count: Int { shape.reduce(1, *) }
    public init(name: String, shape: [Int], decay: Bool) {
        self.name = name
        self.shape = shape
        self.decay = decay
    }
}

/// Indices of one block's parameters in the layout.
public struct BlockParameterIndices: Sendable, Equatable {
    public let norm1Weight: Int, norm1Bias: Int, qkvWeight: Int, qkvBias: Int, projWeight: Int, projBias: Int, ls1: Int
    public let norm2Weight: Int, norm2Bias: Int, fc1Weight: Int, fc1Bias: Int, fc2Weight: Int, fc2Bias: Int, ls2: Int
}

/// Indices of the backbone's trainable parameters (full fine-tuning).
public struct BackboneParameterIndices: Sendable, Equatable {
    public let clsToken: Int, posEmbed: Int, registerTokens: Int?, patchWeight: Int, patchBias: Int
    public let blocks: [BlockParameterIndices]
}

/// The trainable tensors of one model configuration and where each one sits.
public struct ParameterLayout: Sendable, Equatable {
    public private(set) var specs: [ParameterSpec] = []
    public private(set) var tokens: Int?
    public private(set) var tokensA: Int?
    public private(set) var tokensB: Int?
    public private(set) var scale: Int?
    public private(set) var tokenToFeatureWeight: Int?
    public private(set) var tokenToFeatureBias: Int?
    public private(set) var deltaFeatureWeight: Int?
    public private(set) var deltaFeatureBias: Int?
    public private(set) var headNormWeights: [Int] = []
    public private(set) var headNormBiases: [Int] = []
    public private(set) var classifierWeight = 0
    public private(set) var classifierBias = 0
    public private(set) var backbone: BackboneParameterIndices?
    /// Blocks run in training: 0 ... the last block the head reads.
    public let blocksRun: Int

    /// The layout of `model`'s trainable tensors (the backbone's too when its configuration says trainable).
    public init(_ model: SegmentationModel) throws(TrainingError) {
        let c = model.backbone.config
        blocksRun = model.head.config.blocks.max()! + 1
        if let a = model.adapter {
            let r = "backbone.reins."
            if let t = a.tokens { tokens = add(r + "learnable_tokens", t.shape, decay: false) }
            if let t = a.tokensA { tokensA = add(r + "learnable_tokens_a", t.shape, decay: false) }
            if let t = a.tokensB { tokensB = add(r + "learnable_tokens_b", t.shape, decay: false) }
            scale = add(r + "scale", [], decay: false)
            tokenToFeatureWeight = add(r + "mlp_token2feat.weight", a.tokenToFeature.weight.shape, decay: true)
            tokenToFeatureBias = add(r + "mlp_token2feat.bias", a.tokenToFeature.bias.shape, decay: true)
            deltaFeatureWeight = add(r + "mlp_delta_f.weight", a.deltaFeature.weight.shape, decay: true)
            deltaFeatureBias = add(r + "mlp_delta_f.bias", a.deltaFeature.bias.shape, decay: true)
        }
        for (j, norm) in model.head.norms.enumerated() {
            headNormWeights.append(add("decode_head.norms.\(j).weight", norm.weight.shape, decay: false))
            headNormBiases.append(add("decode_head.norms.\(j).bias", norm.bias.shape, decay: false))
        }
        classifierWeight = add("decode_head.conv_seg.weight", model.head.classifier.weight.shape, decay: true)
        classifierBias = add("decode_head.conv_seg.bias", model.head.classifier.bias.shape, decay: true)
        guard model.config.trainable else { return }
        guard c.ffn == .mlp else {
            throw TrainingError("training the backbone is supported for MLP feed-forward blocks (vits14, vitb14, vitl14, tiny); this backbone has SwiGLU blocks")
        }
        let m = model.backbone
        let cls = add("backbone.cls_token", m.clsToken.shape, decay: true)
        let pos = add("backbone.pos_embed", m.posEmbed.shape, decay: true)
        let reg = m.registerTokens.map { add("backbone.register_tokens", $0.shape, decay: true) }
        let pw = add("backbone.patch_embed.proj.weight", m.patchEmbed.weight.shape, decay: true)
        let pb = add("backbone.patch_embed.proj.bias", m.patchEmbed.bias.shape, decay: true)
        var blocks: [BlockParameterIndices] = []
        for l in 0 ..< blocksRun {
            let b = m.blocks[l], p = "backbone.blocks.\(l)."
            guard case .mlp(let fc1, let fc2) = b.ffn else { throw TrainingError("block \(l) is not an MLP block") }
            blocks.append(BlockParameterIndices(
                norm1Weight: add(p + "norm1.weight", b.norm1.weight.shape, decay: false),
                norm1Bias: add(p + "norm1.bias", b.norm1.bias.shape, decay: false),
                qkvWeight: add(p + "attn.qkv.weight", b.attention.qkv.weight.shape, decay: true),
                qkvBias: add(p + "attn.qkv.bias", b.attention.qkv.bias.shape, decay: true),
                projWeight: add(p + "attn.proj.weight", b.attention.proj.weight.shape, decay: true),
                projBias: add(p + "attn.proj.bias", b.attention.proj.bias.shape, decay: true),
                ls1: add(p + "ls1.gamma", b.ls1.shape, decay: true),
                norm2Weight: add(p + "norm2.weight", b.norm2.weight.shape, decay: false),
                norm2Bias: add(p + "norm2.bias", b.norm2.bias.shape, decay: false),
                fc1Weight: add(p + "mlp.fc1.weight", fc1.weight.shape, decay: true),
                fc1Bias: add(p + "mlp.fc1.bias", fc1.bias.shape, decay: true),
                fc2Weight: add(p + "mlp.fc2.weight", fc2.weight.shape, decay: true),
                fc2Bias: add(p + "mlp.fc2.bias", fc2.bias.shape, decay: true),
                ls2: add(p + "ls2.gamma", b.ls2.shape, decay: true)))
        }
        backbone = BackboneParameterIndices(clsToken: cls, posEmbed: pos, registerTokens: reg, patchWeight: pw, patchBias: pb,
                                            blocks: blocks)
    }

    /// A plain list of tensors with no model behind it (optimiser tests, tools).
    public init(specs: [ParameterSpec]) throws(TrainingError) {
        guard Set(specs.map(\.name)).count == specs.count else { throw TrainingError("parameter names must be unique") }
        blocksRun = 0
        self.specs = specs
    }

    private mutating func add(_ name: String, _ shape: [Int], decay: Bool) -> Int {
        specs.append(ParameterSpec(name: name, shape: shape, decay: decay))
        return specs.count - 1
    }

    /// Number of trainable tensors.
    public var count: Int { specs.count }
    /// Number of trainable values.
    public var valueCount: Int { specs.reduce(0) { $0 + $1.count } }

    /// The model's current values of the trainable tensors, in layout order (storage shared, no copy).
    public func tensors(of model: SegmentationModel) -> [Tensor] {
        var out = [Tensor](repeating: Tensor(zeros: []), count: specs.count)
        if let a = model.adapter {
            if let i = tokens { out[i] = a.tokens! }
            if let i = tokensA { out[i] = a.tokensA! }
            if let i = tokensB { out[i] = a.tokensB! }
            out[scale!] = Tensor(shape: [], storage: [a.scale])
            out[tokenToFeatureWeight!] = a.tokenToFeature.weight
            out[tokenToFeatureBias!] = a.tokenToFeature.bias
            out[deltaFeatureWeight!] = a.deltaFeature.weight
            out[deltaFeatureBias!] = a.deltaFeature.bias
        }
        for (j, norm) in model.head.norms.enumerated() {
            out[headNormWeights[j]] = norm.weight
            out[headNormBiases[j]] = norm.bias
        }
        out[classifierWeight] = model.head.classifier.weight
        out[classifierBias] = model.head.classifier.bias
        if let b = backbone {
            let m = model.backbone
            out[b.clsToken] = m.clsToken
            out[b.posEmbed] = m.posEmbed
            if let r = b.registerTokens { out[r] = m.registerTokens! }
            out[b.patchWeight] = m.patchEmbed.weight
            out[b.patchBias] = m.patchEmbed.bias
            for (l, ix) in b.blocks.enumerated() {
                let block = m.blocks[l]
                guard case .mlp(let fc1, let fc2) = block.ffn else { continue }
                out[ix.norm1Weight] = block.norm1.weight; out[ix.norm1Bias] = block.norm1.bias
                out[ix.qkvWeight] = block.attention.qkv.weight; out[ix.qkvBias] = block.attention.qkv.bias
                out[ix.projWeight] = block.attention.proj.weight; out[ix.projBias] = block.attention.proj.bias
                out[ix.ls1] = block.ls1
                out[ix.norm2Weight] = block.norm2.weight; out[ix.norm2Bias] = block.norm2.bias
                out[ix.fc1Weight] = fc1.weight; out[ix.fc1Bias] = fc1.bias
                out[ix.fc2Weight] = fc2.weight; out[ix.fc2Bias] = fc2.bias
                out[ix.ls2] = block.ls2
            }
        }
        return out
    }

    /// `model` with its trainable tensors replaced by `values` (layout order, same shapes).
    public func rebuild(_ model: SegmentationModel, with values: [Tensor]) throws(TrainingError) -> SegmentationModel {
        guard values.count == specs.count else {
            throw TrainingError("expected \(specs.count) trainable tensors, got \(values.count)")
        }
        for (spec, t) in zip(specs, values) where t.shape != spec.shape {
            throw TrainingError("trainable tensor '\(spec.name)': expected shape \(spec.shape), found \(t.shape)")
        }
        do {
            var adapter: CausalTuneAdapter?
            if let a = model.adapter {
                adapter = try CausalTuneAdapter(
                    config: a.config, layers: a.layers, embedDim: a.embedDim,
                    tokens: tokens.map { values[$0] }, tokensA: tokensA.map { values[$0] }, tokensB: tokensB.map { values[$0] },
                    scale: values[scale!].storage[0],
                    tokenToFeature: Linear(weight: values[tokenToFeatureWeight!], bias: values[tokenToFeatureBias!]),
                    deltaFeature: Linear(weight: values[deltaFeatureWeight!], bias: values[deltaFeatureBias!]))
            }
            let eps = model.head.config.layerNormEps
            let norms = (0 ..< headNormWeights.count).map {
                LayerNorm(weight: values[headNormWeights[$0]], bias: values[headNormBiases[$0]], eps: eps)
            }
            let head = try LinearHead(config: model.head.config, embedDim: model.head.embedDim, norms: norms,
                                      classifier: Linear(weight: values[classifierWeight], bias: values[classifierBias]))
            var backboneModel = model.backbone
            if let b = backbone {
                backboneModel.clsToken = values[b.clsToken]
                backboneModel.posEmbed = values[b.posEmbed]
                if let r = b.registerTokens { backboneModel.registerTokens = values[r] }
                backboneModel.patchEmbed = PatchEmbedding(weight: values[b.patchWeight], bias: values[b.patchBias])
                for (l, ix) in b.blocks.enumerated() {
                    let old = backboneModel.blocks[l]
                    backboneModel.blocks[l] = Block(
                        norm1: LayerNorm(weight: values[ix.norm1Weight], bias: values[ix.norm1Bias], eps: old.norm1.eps),
                        attention: Attention(heads: old.attention.heads,
                                             qkv: Linear(weight: values[ix.qkvWeight], bias: values[ix.qkvBias]),
                                             proj: Linear(weight: values[ix.projWeight], bias: values[ix.projBias])),
                        ls1: values[ix.ls1],
                        norm2: LayerNorm(weight: values[ix.norm2Weight], bias: values[ix.norm2Bias], eps: old.norm2.eps),
                        ffn: .mlp(fc1: Linear(weight: values[ix.fc1Weight], bias: values[ix.fc1Bias]),
                                  fc2: Linear(weight: values[ix.fc2Weight], bias: values[ix.fc2Bias])),
                        ls2: values[ix.ls2])
                }
            }
            return try SegmentationModel(config: model.config, backbone: backboneModel, adapter: adapter, head: head)
        } catch {
            throw TrainingError("cannot rebuild the model from its trained tensors: \(error.reason)")
        }
    }
}
