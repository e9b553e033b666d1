// Mask2FormerModel.swift — a Rein / Causal-Tune model with the Mask2Former head,
// as the released code runs it (Rein's `ReinMask2FormerHead`, replace_query_feat):
//
//   image (3, H, W), normalised
//     -> DINOv2, the adapter after every block          (CausalTuneAdapter)
//     -> the patch tokens after blocks out_indices, resized x4, x2, x1, x0.5
//                                                       (FeaturePyramid)
//     -> the pixel decoder: mask features (stride 4) and three memory levels
//                                                       (PixelDecoder)
//     -> the transformer decoder from the adapter's queries (token -> query link)
//                                                       (Mask2FormerTransformerDecoder)
//     -> scores (K, H, W) = Σ_q softmax(class_q)[:K] · sigmoid(mask_q resized to H x W)
//                                                       (Mask2FormerSemanticScores)
// Slide inference averages these scores over windows (Inference.Segmenter).
// Training layout: the adapter (its token -> query link included) and the head
// sit in one contiguous `trainableStorage`, in walk order, followed — when the
// backbone is fine-tuned (`training(backbone:)`) — by its blocks up to the last
// one the head reads; the rest of the backbone stays frozen where it was loaded.
// Parameter names are MMSegmentation's: the backbone's official names under
// `backbone.`, the adapter under `backbone.reins.`, the head under `decode_head.`.
// Sizes come from the checkpoint's shapes; what shapes do not record (attention
// heads, sampling points, GroupNorm groups) is Rein's configuration by default.

import CTCore
import Foundation
import Tensor

/// What a Mask2Former model is, besides its backbone's architecture.
public struct Mask2FormerConfig: Sendable, Equatable, Codable {
    public var adapter: AdapterConfig
    /// The blocks whose adapted outputs feed the head (four, increasing).
    public var outIndices: [Int]
    public var pixelDecoder: PixelDecoderConfig
    public var decoder: Mask2FormerDecoderConfig

    public init(adapter: AdapterConfig, outIndices: [Int], pixelDecoder: PixelDecoderConfig, decoder: Mask2FormerDecoderConfig) {
        self.adapter = adapter
        self.outIndices = outIndices
        self.pixelDecoder = pixelDecoder
        self.decoder = decoder
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case adapter, outIndices = "out_indices", pixelDecoder = "pixel_decoder", decoder
    }

    /// What the shapes of a checkpoint's adapter (`backbone.reins.*`) and head (`decode_head.*`)
    /// tensors imply, for adapter kind `kind` on a backbone of `depth` blocks and width C.
    /// `heads`, `points`, `groupNormGroups` and `decoderHeads` are not in the shapes (Rein: 8, 4, 32, 8).
    public static func inferred(adapter: [String: Tensor], head: [String: Tensor], kind: AdapterKind, depth: Int, embedDim c: Int,
                                path: String, heads: Int = 8, points: Int = 4, groupNormGroups: Int = 32,
                                decoderHeads: Int = 8) throws(WeightError) -> Mask2FormerConfig {
        let reins = SegmentationModel.adapterScope, scope = SegmentationModel.headScope
        func shape(_ tensors: [String: Tensor], _ name: String, rank: Int) throws(WeightError) -> [Int] {
            guard let t = tensors[name] else {
                throw WeightError(path: path, tensor: name, reason: "missing: a Rein / Causal-Tune Mask2Former checkpoint has it")
            }
            guard t.shape.count == rank else {
                throw WeightError(path: path, tensor: name, reason: "expected a \(rank)-D tensor, found \(t.shapeDescription)")
            }
            return t.shape
        }
        guard kind != .none else { throw WeightError(path: path, reason: "a Mask2Former model of Rein's kind needs an adapter (its queries come from the adapter's tokens); choose rein, causal-tune-released or causal-tune") }
        let tokens: Int, rank: Int
        if adapter[reins.name("learnable_tokens")] != nil {
            let s = try shape(adapter, reins.name("learnable_tokens"), rank: 3)
            (tokens, rank) = (s[1], 0)
        } else {
            let s = try shape(adapter, reins.name("learnable_tokens_a"), rank: 3)
            (tokens, rank) = (s[1], s[2])
        }
        let queryDims = try shape(adapter, reins.name("transform.weight"), rank: 2)[0]
        let adapterConfig = AdapterConfig(kind: kind, filter: kind == .causalTune ? .bandpass : .none, tokens: tokens, rank: rank,
                                          queryLink: true, queryDims: queryDims)
        let pixel = try PixelDecoderConfig.inferred(from: head, scope: scope.child("pixel_decoder"), path: path, heads: heads,
                                                    points: points, groupNormGroups: groupNormGroups)
        let classes = try shape(head, scope.name("cls_embed.weight"), rank: 2)
        var layers = 0
        while head[scope.name("transformer_decoder.layers.\(layers).norms.0.weight")] != nil { layers += 1 }
        guard layers > 0 else {
            throw WeightError(path: path, tensor: scope.name("transformer_decoder.layers.0.norms.0.weight"), reason: "missing: no decoder layers")
        }
        let decoder = Mask2FormerDecoderConfig(
            embedDim: classes[1], heads: decoderHeads, queries: tokens, classes: classes[0] - 1, layers: layers,
            feedForward: try shape(head, scope.name("transformer_decoder.layers.0.ffn.layers.0.0.weight"), rank: 2)[0],
            levels: try shape(head, scope.name("level_embed.weight"), rank: 2)[0],
            maskChannels: try shape(head, scope.name("mask_embed.4.weight"), rank: 2)[0])
        guard queryDims == decoder.embedDim else {
            throw WeightError(path: path, tensor: reins.name("transform.weight"),
                              reason: "the queries are \(queryDims) wide, the decoder \(decoder.embedDim) (cls_embed.weight)")
        }
        guard decoder.maskChannels == pixel.outChannels, decoder.embedDim == pixel.featureChannels else {
            throw WeightError(path: path, tensor: scope.name("mask_embed.4.weight"),
                              reason: "the decoder (width \(decoder.embedDim), \(decoder.maskChannels) mask channels) does not fit the pixel decoder (width \(pixel.featureChannels), \(pixel.outChannels) mask channels)")
        }
        guard pixel.inChannels.allSatisfy({ $0 == c }), pixel.inChannels.count == 4 else {
            throw WeightError(path: path, tensor: scope.name("pixel_decoder.input_convs.0.conv.weight"),
                              reason: "the pixel decoder reads \(pixel.inChannels.count) maps of widths \(pixel.inChannels); the backbone gives 4 of width \(c)")
        }
        return Mask2FormerConfig(adapter: adapterConfig, outIndices: FeaturePyramid.defaultBlocks(depth: depth),
                                 pixelDecoder: pixel, decoder: decoder)
    }
}

/// What a Mask2Former checkpoint's shapes do not record (defaults: Rein's configuration).
public struct Mask2FormerLoadOptions: Sendable, Equatable {
    /// The backbone's heads and position interpolation.
    public var backbone: WeightLoadOptions
    /// Pixel decoder: attention heads, sampling points per head and level, GroupNorm groups.
    public var heads: Int, points: Int, groupNormGroups: Int
    /// Transformer decoder attention heads.
    public var decoderHeads: Int
    /// The blocks feeding the head (default: L/3 − 1, L/2 − 1, 2L/3 − 1, L − 1).
    public var outIndices: [Int]?

    public init(backbone: WeightLoadOptions = .init(), heads: Int = 8, points: Int = 4, groupNormGroups: Int = 32,
                decoderHeads: Int = 8, outIndices: [Int]? = nil) {
        (self.backbone, self.heads, self.points, self.groupNormGroups) = (backbone, heads, points, groupNormGroups)
        (self.decoderHeads, self.outIndices) = (decoderHeads, outIndices)
    }
}

public struct Mask2FormerModel: Sendable, ParameterWalkable {
    public let config: Mask2FormerConfig
    public private(set) var backbone: DINOv2
    public private(set) var adapter: CausalTuneAdapter
    public private(set) var pixelDecoder: PixelDecoder
    public private(set) var decoder: Mask2FormerTransformerDecoder
    /// The adapter's parameter-only products, the queries among them.
    public private(set) var prepared: PreparedAdapter
    /// The trainable parameters' values, one flat buffer in walk order (adapter, head, and the
    /// fine-tuned backbone blocks): what gradients and optimiser moments mirror.
    public private(set) var trainableStorage: ParameterStorage
    /// Whether training updates the backbone too (full fine-tuning); false: frozen, as Rein trains.
    public private(set) var trainsBackbone: Bool

    /// A model of `config` around `backbone` whose adapter and head parameters a walk binds
    /// later (`read(adapter:head:path:)`).
    init(config: Mask2FormerConfig, backbone: DINOv2) throws(ModelInputError) {
        let b = backbone.config
        if let problem = config.adapter.problems().first { throw ModelInputError(problem) }
        if let problem = config.adapter.registersProblem(b.registers) { throw ModelInputError(problem) }
        guard config.adapter.queryLink else { throw ModelInputError("the Mask2Former head reads its queries from the adapter's token -> query link") }
        self.config = config
        self.backbone = backbone
        adapter = try CausalTuneAdapter(config: config.adapter, layers: b.depth, embedDim: b.embedDim)
        pixelDecoder = try PixelDecoder(config: config.pixelDecoder)
        decoder = try Mask2FormerTransformerDecoder(config: config.decoder)
        prepared = PreparedAdapter(tokens: 0, embedDim: 0, scaledTokens: [], values: [], queries: [])
        trainableStorage = ParameterStorage(count: 0)
        trainsBackbone = false
    }

    /// Loads a Rein / Causal-Tune Mask2Former checkpoint saved by MMSegmentation (`.pth`: only
    /// `backbone.reins.*` and `decode_head.*`, as Rein saves them) with the DINOv2 weights in
    /// `weights` (or those the checkpoint embeds under `backbone.`). `kind`: what the adapter
    /// computes, which the checkpoint cannot tell (Rein and Causal-Tune save the same names).
    public static func load(checkpoint path: String, weights: String?, adapter kind: AdapterKind,
                            options: Mask2FormerLoadOptions = .init()) throws(WeightError) -> Mask2FormerModel {
        let file = try MMSegCheckpoint.read(path)
        let backbone: DINOv2
        if let weights {
            backbone = try DINOv2Weights.load(weights, options: options.backbone).model
        } else if !file.backbone.isEmpty {
            backbone = try DINOv2Weights.load(path, options: options.backbone).model
        } else {
            throw WeightError(path: path, reason: "the checkpoint holds no backbone tensors (Rein saves only backbone.reins.* and decode_head.*); give the DINOv2 weights (--weights)")
        }
        let b = backbone.config
        var config = try Mask2FormerConfig.inferred(adapter: file.adapter, head: file.head, kind: kind, depth: b.depth,
                                                    embedDim: b.embedDim, path: path, heads: options.heads, points: options.points,
                                                    groupNormGroups: options.groupNormGroups, decoderHeads: options.decoderHeads)
        if let blocks = options.outIndices { config.outIndices = blocks }
        var model: Mask2FormerModel
        do { model = try Mask2FormerModel(config: config, backbone: backbone) } catch {
            throw WeightError(path: path, reason: error.reason)
        }
        try model.read(adapter: file.adapter, head: file.head, path: path)
        return model
    }

    /// A model of `config` around `backbone` whose adapter and head parameters are random values
    /// of plausible scale (`RandomParameters`), reproducible from `seed`: for benchmarks at real sizes.
    public static func random(config: Mask2FormerConfig, backbone: DINOv2, seed: UInt64) throws(ModelInputError) -> Mask2FormerModel {
        var model = try Mask2FormerModel(config: config, backbone: backbone)
        var head = Head(pixelDecoder: model.pixelDecoder, decoder: model.decoder)
        let count = ParameterList.count(of: model.adapter) + ParameterList.count(of: head)
        var filler = RandomParameters(count: count, seed: seed)
        do throws(WeightError) {
            try model.adapter.walkParameters(&filler, SegmentationModel.adapterScope)
            try head.walkParameters(&filler, SegmentationModel.headScope)
        } catch { throw ModelInputError(error.reason) }
        (model.pixelDecoder, model.decoder) = (head.pixelDecoder, head.decoder)
        model.prepared = model.adapter.prepare()
        model.bindTrainable()
        return model
    }

    /// A model of `config` around `backbone` trained from scratch: the adapter as Rein initialises it
    /// and the head as mmdet initialises Mask2FormerHead (Mask2FormerInitialisation.swift), seeded.
    public static func initialised(config: Mask2FormerConfig, backbone: DINOv2, seed: UInt64) throws(ModelInputError) -> Mask2FormerModel {
        var model = try Mask2FormerModel(config: config, backbone: backbone)
        var rng = SplitMix64(seed: seed)
        model.adapter = try CausalTuneAdapter.initialised(config: config.adapter, layers: backbone.config.depth,
                                                          embedDim: backbone.config.embedDim, using: &rng)
        var head = Head(pixelDecoder: model.pixelDecoder, decoder: model.decoder)
        var initialiser = Mask2FormerHeadInitialiser(count: ParameterList.count(of: head), pixelDecoder: config.pixelDecoder,
                                                     seed: rng.next())
        do throws(WeightError) { try head.walkParameters(&initialiser, SegmentationModel.headScope) } catch {
            throw ModelInputError(error.reason)
        }
        (model.pixelDecoder, model.decoder) = (head.pixelDecoder, head.decoder)
        model.prepared = model.adapter.prepare()
        model.bindTrainable()
        return model
    }

    /// Binds the adapter and the head from their tensors by name and shape; nothing may be left over.
    mutating func read(adapter tensors: [String: Tensor], head: [String: Tensor], path: String) throws(WeightError) {
        var adapterReader = ParameterReader(tensors: tensors, path: path)
        try adapter.readParameters(SegmentationModel.adapterScope, from: &adapterReader)
        var headReader = ParameterReader(tensors: head, path: path)
        var head = Head(pixelDecoder: pixelDecoder, decoder: decoder)
        try head.readParameters(SegmentationModel.headScope, from: &headReader)
        (pixelDecoder, decoder) = (head.pixelDecoder, head.decoder)
        for (reader, what) in [(adapterReader, "adapter"), (headReader, "head")] {
            if let extra = reader.unused.first {
                throw WeightError(path: path, tensor: extra,
                                  reason: "unexpected for a \(config.adapter.kind.rawValue) adapter with a \(config.decoder.layers)-layer Mask2Former head (\(what); shape \(reader.tensors[extra]!.shapeDescription))")
            }
        }
        prepared = adapter.prepare()
        bindTrainable()
    }

    /// Moves the trainable parameters into one new contiguous `trainableStorage` (copying their values).
    mutating func bindTrainable() {
        trainableStorage = ParameterStorage(count: 0)
        var rebinder = ParameterRebinder(count: ParameterList.count(of: self) { $0.trainable }, select: \.trainable)
        try? walkParameters(&rebinder, .init())
        trainableStorage = rebinder.storage
    }

    /// The model with the backbone trainable (`backbone` true: full fine-tuning, through the last
    /// block the head reads) or frozen, its trainable parameters in a new `trainableStorage`
    /// (the values copied: the copy shares no trainable value with this model).
    public func training(backbone: Bool) -> Mask2FormerModel {
        var model = self
        model.trainsBackbone = backbone
        model.bindTrainable()
        return model
    }

    /// Recomputes what depends on parameter values only (after they changed in place).
    public mutating func parametersChanged() {
        prepared = adapter.prepare()
    }

    /// Blocks a training forward pass runs: 0 ... the last block the head reads.
    public var blocksRun: Int { config.outIndices.max().map { $0 + 1 } ?? backbone.config.depth }

    /// The head's parameters under one scope (`decode_head.`): the pixel decoder under
    /// `pixel_decoder.`, the decoder's own names beside it.
    struct Head: ParameterWalkable {
        var pixelDecoder: PixelDecoder
        var decoder: Mask2FormerTransformerDecoder
        mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
            try pixelDecoder.walkParameters(&v, scope.child("pixel_decoder"))
            try decoder.walkParameters(&v, scope)
        }
    }

    /// Adapter, head, backbone: every tensor under its MMSegmentation name. The adapter and the head
    /// train; the backbone only when fine-tuned (through `blocksRun`; its final norm never).
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try adapter.walkParameters(&v, SegmentationModel.adapterScope)
        var head = Head(pixelDecoder: pixelDecoder, decoder: decoder)
        try head.walkParameters(&v, SegmentationModel.headScope)
        (pixelDecoder, decoder) = (head.pixelDecoder, head.decoder)
        try backbone.walkParameters(&v, SegmentationModel.backboneScope.training(trainsBackbone), trainableBlocks: blocksRun,
                                    trainableNorm: false)
    }

    /// Classes K.
    public var classes: Int { config.decoder.classes }

    /// The buffers of one window size (height x width, multiples of the patch size), used by one worker.
    /// `retainForBackward` (training without activation checkpointing): the adapter keeps every layer's slot;
    /// `forTraining`: backward passes will follow (see AdapterActivations).
    public func makeWorkspace(height: Int, width: Int, retainForBackward: Bool = false, forTraining: Bool = false,
                              threads: Int) throws(ModelInputError) -> Mask2FormerWorkspace {
        try Mask2FormerWorkspace(model: self, height: height, width: width, retainForBackward: retainForBackward,
                                 forTraining: forTraining, threads: threads)
    }

    /// The scores (K, H, W) of a normalised window (3, H, W), in the workspace's `scores`.
    public func scores(_ image: UnsafeBufferPointer<Float>, _ w: Mask2FormerWorkspace) throws(ModelInputError) {
        try backbone.featurePyramid(image, w.backbone.activations, adapter: adapter, prepared: prepared, w.adapter.activations,
                                    into: w.pyramid.pyramid)
        headScores(w)
    }

    /// The head alone (pixel decoder, transformer decoder, semantic scores) on the feature
    /// pyramid the workspace holds (that of the last window `scores` ran), into its `scores`.
    public func headScores(_ w: Mask2FormerWorkspace) {
        let maps = (0 ..< 4).map { UnsafePointer(w.pyramid.pyramid.levels[$0].baseAddress!) }
        pixelDecoder.forward(features: maps, workspace: w.pixel, maskFeatures: w.maskFeatures.baseAddress!,
                             multiScale: w.memory.baseAddress!)
        let c = config.decoder.embedDim
        var memory: [UnsafePointer<Float>] = [], row = 0
        for shape in w.pixel.encoderShapes {
            memory.append(UnsafePointer(w.memory.baseAddress! + row * c))
            row += shape.count
        }
        prepared.queries.withUnsafeBufferPointer { q in
            decoder.forward(queryEmbed: q.baseAddress!, memory: memory, maskFeatures: w.maskFeatures.baseAddress!,
                            activations: w.decoderActivations.activations)
        }
        let mask = w.pixel.maskShape
        Mask2FormerSemanticScores.compute(classLogits: w.decoderActivations.activations.classLogits.baseAddress!,
                                          maskLogits: w.decoderActivations.activations.maskLogits.baseAddress!,
                                          queries: config.decoder.queries, classes: classes, maskHeight: mask.height,
                                          maskWidth: mask.width, height: w.height, width: w.width,
                                          scratch: w.semanticScratch.baseAddress!, into: w.scores.baseAddress!, threads: w.threads)
    }
}

/// One worker's buffers for one window size: the backbone, adapter and pyramid arenas, the
/// pixel decoder's workspace, the decoder's activations, and the scores (K, H, W).
public final class Mask2FormerWorkspace: @unchecked Sendable {
    final class BackboneArena { let activations: DINOv2Activations; init(_ a: consuming DINOv2Activations) { activations = a } }
    final class AdapterArena { let activations: AdapterActivations; init(_ a: consuming AdapterActivations) { activations = a } }
    final class PyramidArena { let pyramid: FeaturePyramid; init(_ p: consuming FeaturePyramid) { pyramid = p } }
    final class DecoderArena {
        let activations: Mask2FormerDecoderActivations
        init(_ a: consuming Mask2FormerDecoderActivations) { activations = a }
    }

    public let height: Int, width: Int, threads: Int
    let backbone: BackboneArena
    let adapter: AdapterArena
    let pyramid: PyramidArena
    let pixel: PixelDecoderWorkspace
    let decoderActivations: DecoderArena
    let maskFeatures: UnsafeMutableBufferPointer<Float>
    let memory: UnsafeMutableBufferPointer<Float>
    let semanticScratch: UnsafeMutableBufferPointer<Float>
    /// (K, H, W): the last window's scores.
    public let scores: UnsafeMutableBufferPointer<Float>

    init(model: Mask2FormerModel, height: Int, width: Int, retainForBackward: Bool = false, forTraining: Bool = false,
         threads: Int) throws(ModelInputError) {
        (self.height, self.width, self.threads) = (height, width, threads)
        let b = try model.backbone.makeActivations(height: height, width: width, threads: threads)
        if let problem = model.config.adapter.gridProblem(height: b.gridHeight, width: b.gridWidth) { throw ModelInputError(problem) }
        adapter = AdapterArena(model.adapter.makeActivations(gridHeight: b.gridHeight, gridWidth: b.gridWidth,
                                                             retainForBackward: retainForBackward,
                                                             forTraining: forTraining, threads: threads))
        pyramid = PyramidArena(try model.backbone.makeFeaturePyramid(for: b, blocks: model.config.outIndices))
        backbone = BackboneArena(b)
        let heights = pyramid.pyramid.heights, widths = pyramid.pyramid.widths
        let shapes = (0 ..< 4).map { LevelShape(height: heights[$0], width: widths[$0]) }
        pixel = try PixelDecoderWorkspace(decoder: model.pixelDecoder, shapes: shapes, threads: threads)
        let d = model.config.decoder
        let mask = pixel.maskShape
        decoderActivations = DecoderArena(try model.decoder.makeActivations(
            levelSizes: pixel.encoderShapes.map { (height: $0.height, width: $0.width) }, maskHeight: mask.height,
            maskWidth: mask.width, threads: threads))
        func buffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
            b.initialize(repeating: 0)
            return b
        }
        maskFeatures = buffer(model.config.pixelDecoder.outChannels * mask.count)
        memory = buffer(pixel.multiScaleRows * d.embedDim)
        semanticScratch = buffer(Mask2FormerSemanticScores.scratchCount(queries: d.queries, classes: d.classes, width: width,
                                                                         threads: threads))
        scores = buffer(d.classes * height * width)
    }

    deinit {
        for b in [maskFeatures, memory, semanticScratch, scores] { b.deallocate() }
    }

    /// Bytes held (every arena).
    public var byteCount: Int {
        backbone.activations.byteCount + adapter.activations.byteCount + pyramid.pyramid.byteCount + pixel.byteCount
            + decoderActivations.activations.byteCount
            + (maskFeatures.count + memory.count + semanticScratch.count + scores.count) * MemoryLayout<Float>.stride
    }
}

// ctpipe files of Mask2Former models: one safetensors file holding every tensor
// under its MMSegmentation name (backbone embedded: the file alone rebuilds the
// model) and, under the metadata key `ctpipe.config`,
// `{"version": 1, "backbone": DINOv2Config, "mask2former": Mask2FormerConfig}`
// — the adapter kind and the head's sizes recorded, so no --adapter is needed.
extension Mask2FormerModel {
    /// The configuration JSON a ctpipe Mask2Former file stores.
    struct StoredConfig: Codable {
        var version = 1
        var backbone: DINOv2Config
        var mask2former: Mask2FormerConfig
    }

    /// The model as a ctpipe safetensors file.
    public func ctpipeFile() -> SafeTensorsFile {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(StoredConfig(backbone: backbone.config, mask2former: config)))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return SafeTensorsFile(tensors: stateDict(), metadata: [DINOv2Weights.configKey: json])
    }

    /// Whether a ctpipe configuration JSON describes a Mask2Former model.
    public static func describes(configJSON json: String) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["mask2former"] != nil
    }

    /// Loads a ctpipe Mask2Former file (`ctpipeFile`).
    public static func load(ctpipe path: String) throws(WeightError) -> Mask2FormerModel {
        let parsed = try SafeTensors.read(path)
        guard let json = parsed.metadata[DINOv2Weights.configKey] else {
            throw WeightError(path: path, reason: "not a ctpipe file: no '\(DINOv2Weights.configKey)' metadata")
        }
        if !describes(configJSON: json) {
            let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
            let what = object?["head"] != nil ? "a ctpipe checkpoint with the linear head"
                : object?.keys.sorted() == ["backbone"] ? "ctpipe backbone weights (no adapter, no head)" : "a ctpipe file of another model"
            throw WeightError(path: path, reason: "\(what), not a Mask2Former model (its '\(DINOv2Weights.configKey)' has no 'mask2former' section)")
        }
        if let unknown = StoredConfigKeys.unknownKey(in: json, schema: StoredConfigKeys.mask2former) {
            throw WeightError(path: path, reason: "metadata '\(DINOv2Weights.configKey)' has the setting '\(unknown)', which this ctpipe does not know (written by a newer version?); refusing to run the model as something else")
        }
        let stored: StoredConfig
        do { stored = try JSONDecoder().decode(StoredConfig.self, from: Data(json.utf8)) } catch {
            throw WeightError(path: path, reason: "metadata '\(DINOv2Weights.configKey)' is not a Mask2Former model configuration: \(error)")
        }
        guard stored.version == 1 else {
            throw WeightError(path: path, reason: "configuration version \(stored.version) is not supported (this ctpipe reads 1)")
        }
        let backbone = try DINOv2Weights.load(path, options: WeightLoadOptions(heads: stored.backbone.heads,
                                                                           interpolation: stored.backbone.interpolation)).model
        var model: Mask2FormerModel
        do { model = try Mask2FormerModel(config: stored.mask2former, backbone: backbone) } catch {
            throw WeightError(path: path, reason: error.reason)
        }
        let adapter = parsed.tensors.filter { $0.key.hasPrefix(SegmentationModel.adapterScope.prefix) }
        let head = parsed.tensors.filter { $0.key.hasPrefix(SegmentationModel.headScope.prefix) }
        try model.read(adapter: adapter, head: head, path: path)
        return model
    }
}
