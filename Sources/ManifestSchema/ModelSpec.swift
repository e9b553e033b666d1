// ModelSpec.swift — the manifest's `model` section, decoded once into typed
// settings: the backbone, its weights or a trained checkpoint, the adapter
// (Model.AdapterConfig), the head and the slide-inference window. Choices are
// the enums' raw values, so the names the manifest accepts and the names its
// messages list come from one place.

import Foundation
import Model

extension Manifest {
    /// The model section: what the infer (and train) stage builds, and the slide-inference window.
    public struct ModelSpec: Sendable, Equatable {
        /// `model.backbone`: the DINOv2 sizes (`tiny`: the demo's small ViT, randomly initialised).
        public enum Backbone: String, Sendable, CaseIterable { case vits14, vitb14, vitl14, vitg14, tiny }
        /// `model.head`.
        /// `mask2former`: Rein's Mask2Former head — a released Rein / Causal-Tune checkpoint
        /// (MMSegmentation `.pth`) or a ctpipe Mask2Former file, run or fine-tuned, or a head trained
        /// from scratch of the sizes in `model.mask2former` (docs/mask2former.md).
        public enum Head: String, Sendable, CaseIterable { case linear, mask2former }
        /// The settings a manifest can state next to a checkpoint, which must then agree with it.
        public enum Setting: String, Sendable, CaseIterable { case backbone, adapter, transform, filter, dl, dh, tokens, rank }

        public var backbone: Backbone = .vitl14
        public var weights: String?
        public var checkpoint: String?
        /// Kind, transform, filter, cut-offs, tokens and rank; the AdapterConfig defaults where not given.
        public var adapter = AdapterConfig()
        public var head: Head = .linear
        /// `model.trainable`: the backbone is trained too.
        public var trainable = false
        /// `model.registers_interpolation`: how the position grid is resized (nil: the weights' rule).
        public var interpolation: PositionInterpolation?
        /// Slide-inference window side, pixels (`model.crop`; nil: the training crop size, 512 by default).
        public var crop: Int?
        /// Slide-inference window step, pixels (`model.stride`; nil: two thirds of the crop, 341 for 512).
        public var stride: Int?
        /// Which of the settings the manifest states explicitly.
        public var stated: Set<Setting> = []
        /// `model.mask2former`: the head's sizes when it is trained from scratch (Rein's by default).
        public var mask2former = Mask2FormerHeadSpec()

        public init() {}

        /// The Mask2Former model a from-scratch training builds on a backbone of `backbone`: the
        /// adapter's tokens are the queries (Rein's token -> query link), the levels and out indices Rein's.
        public func mask2formerConfig(backbone: DINOv2Config) -> Mask2FormerConfig {
            let h = mask2former
            var adapter = self.adapter
            adapter.tokens = h.queries
            adapter.queryLink = true
            adapter.queryDims = h.embedDim
            let c = backbone.embedDim
            let pixel = PixelDecoderConfig(inChannels: [c, c, c, c], featureChannels: h.embedDim, outChannels: h.embedDim,
                                           encoderLevels: 3, encoderLayers: h.encoderLayers, heads: h.heads, points: h.points,
                                           feedforward: h.encoderFeedforward, groupNormGroups: h.groups)
            let decoder = Mask2FormerDecoderConfig(embedDim: h.embedDim, heads: h.heads, queries: h.queries, classes: h.classes,
                                                   layers: h.decoderLayers, feedForward: h.feedforward, levels: 3)
            return Mask2FormerConfig(adapter: adapter, outIndices: FeaturePyramid.defaultBlocks(depth: backbone.depth),
                                     pixelDecoder: pixel, decoder: decoder)
        }

        /// The architecture of the named backbone.
        public var backboneConfig: DINOv2Config? { DINOv2Config.named(backbone.rawValue) }

        /// Why the train stage cannot train this model (nil: it can): the field and the reason.
        public var trainingProblem: (field: String, reason: String)? {
            if head == .mask2former, adapter.kind == .none {
                return ("adapter", "the mask2former head reads its queries from the adapter's tokens; choose rein or causal-tune")
            }
            return adapter.kind == .causalTuneReleased
                ? ("adapter", "causal-tune-released replays the released code for inference only; the train stage trains causal-tune (the paper's method), rein or none")
                : nil
        }

        /// Why the adapter cannot run on the patch grid of `crop` x `crop` pixel windows (nil: it can, or the
        /// grid is not known yet): the haar transform needs power-of-two sides. The patch size is the named
        /// backbone's; a crop that is not a multiple of it is left to the model (weights may change the patch).
        public func gridProblem(crop: Int) -> String? {
            guard let p = backboneConfig?.patchSize, p > 0, crop % p == 0 else { return nil }
            let side = crop / p
            return adapter.gridProblem(height: side, width: side).map { "\($0) (\(crop) px crops of \(backbone.rawValue), patch \(p))" }
        }
    }
}

extension Manifest.ModelSpec {
    /// `model.mask2former`: the sizes of a Mask2Former head trained from scratch (defaults: Rein's).
    public struct Mask2FormerHeadSpec: Sendable, Equatable {
        /// Width D of the pixel decoder's features, the queries and the decoder.
        public var embedDim = 256
        /// Queries Q (= the adapter's tokens).
        public var queries = 100
        /// Classes K (without "no object").
        public var classes = 19
        public var decoderLayers = 9
        public var encoderLayers = 6
        /// The transformer decoder's FFN width.
        public var feedforward = 2048
        /// The pixel decoder's encoder FFN width.
        public var encoderFeedforward = 1024
        /// Attention heads (pixel decoder and transformer decoder).
        public var heads = 8
        /// Sampling points per head and level of the deformable attention.
        public var points = 4
        /// GroupNorm groups.
        public var groups = 32
        /// Whether the manifest gives the section.
        public var stated = false
        /// The keys the manifest gives.
        public var statedKeys: Set<String> = []
        /// The sizes a checkpoint's tensor shapes do not record, which may be given next to a
        /// `checkpoint` (an MMSegmentation `.pth` is read with them; Rein's by default).
        public static let unrecordedKeys: Set<String> = ["heads", "points", "groups"]
        public init() {}
    }
}

extension ManifestLoader {
    static let modelKeys = ["backbone", "weights", "checkpoint", "adapter", "transform", "filter", "head", "dl", "dh", "tokens",
                            "rank", "trainable", "registers_interpolation", "crop", "stride", "mask2former"]
    static let mask2formerKeys = ["embed_dim", "queries", "classes", "decoder_layers", "encoder_layers", "feedforward",
                                  "encoder_feedforward", "heads", "points", "groups"]

    /// `model.mask2former`: every size in range, the widths divisible as the layers need.
    static func readMask2FormerHead(_ json: JSONValue, at path: String, reader: inout FieldReader) -> Manifest.ModelSpec.Mask2FormerHeadSpec {
        var h = Manifest.ModelSpec.Mask2FormerHeadSpec()
        h.stated = true
        guard let object = reader.object(json, at: path, allowed: mask2formerKeys) else { return h }
        h.statedKeys = Set(object.keys)
        if let v = reader.int(object, "embed_dim", at: path, range: 2 ... 4096) { h.embedDim = v }
        if let v = reader.int(object, "queries", at: path, range: 2 ... 4096) { h.queries = v }
        if let v = reader.int(object, "classes", at: path, range: 1 ... 254) { h.classes = v }
        if let v = reader.int(object, "decoder_layers", at: path, range: 1 ... 64) { h.decoderLayers = v }
        if let v = reader.int(object, "encoder_layers", at: path, range: 1 ... 64) { h.encoderLayers = v }
        if let v = reader.int(object, "feedforward", at: path, range: 1 ... 65536) { h.feedforward = v }
        if let v = reader.int(object, "encoder_feedforward", at: path, range: 1 ... 65536) { h.encoderFeedforward = v }
        if let v = reader.int(object, "heads", at: path, range: 1 ... 256) { h.heads = v }
        if let v = reader.int(object, "points", at: path, range: 1 ... 64) { h.points = v }
        if let v = reader.int(object, "groups", at: path, range: 1 ... 4096) { h.groups = v }
        let reported = Set(reader.problems.map(\.path))
        if !reported.contains(path + ".embed_dim") {
            if !reported.contains(path + ".heads"), h.embedDim % h.heads != 0 {
                reader.report(path + ".heads", "\(h.heads) heads do not divide embed_dim \(h.embedDim)")
            }
            if !reported.contains(path + ".groups"), h.embedDim % h.groups != 0 {
                reader.report(path + ".groups", "\(h.groups) GroupNorm groups do not divide embed_dim \(h.embedDim)")
            }
            if h.embedDim % 4 != 0 {
                reader.report(path + ".embed_dim", "\(h.embedDim) is not a multiple of 4 (the sine position encoding splits it over two axes of sine and cosine)")
            }
        }
        return h
    }

    static func readModel(_ json: JSONValue, at path: String, folder: String, checkFiles: Bool,
                          reader: inout FieldReader) -> Manifest.ModelSpec? {
        guard let object = reader.object(json, at: path, allowed: modelKeys) else { return nil }
        var spec = Manifest.ModelSpec()
        spec.stated = Set(Manifest.ModelSpec.Setting.allCases.filter { object[$0.rawValue] != nil })
        if let backbone = reader.choice(object, "backbone", at: path, as: Manifest.ModelSpec.Backbone.self) { spec.backbone = backbone }
        if let kind = reader.choice(object, "adapter", at: path, as: AdapterKind.self) { spec.adapter.kind = kind }
        let transform = reader.choice(object, "transform", at: path, as: FrequencyTransform.self)
        if let transform { spec.adapter.transform = transform }
        if let filter = reader.choice(object, "filter", at: path, as: FrequencyFilter.self) { spec.adapter.filter = filter }
        if let head = reader.string(object, "head", at: path) {
            if let value = Manifest.ModelSpec.Head(rawValue: head) { spec.head = value } else {
                reader.report(path + ".head", "\"\(head)\" is not supported (\(Manifest.ModelSpec.Head.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if let v = reader.double(object, "dl", at: path, range: 0.0001 ... 10) { spec.adapter.dl = v }
        if let v = reader.double(object, "dh", at: path, range: 0.0001 ... 10) { spec.adapter.dh = v }
        if let v = reader.int(object, "tokens", at: path, range: 2 ... 4096) { spec.adapter.tokens = v }
        if let v = reader.int(object, "rank", at: path, range: 0 ... 4096) { spec.adapter.rank = v }
        if let v = reader.bool(object, "trainable", at: path) { spec.trainable = v }
        spec.interpolation = reader.choice(object, "registers_interpolation", at: path, as: PositionInterpolation.self)
        // Slide inference window (datasets.md section 8); the multiple-of-patch rule is checked once the
        // whole manifest is read (PatchSizeCheck.swift), and again when the model is built.
        spec.crop = reader.int(object, "crop", at: path, range: 1 ... 8192)
        if let value = object["mask2former"] { spec.mask2former = readMask2FormerHead(value, at: path + ".mask2former", reader: &reader) }
        spec.stride = reader.int(object, "stride", at: path, range: 1 ... 8192)
        for key in ["weights", "checkpoint"] {
            guard let value = reader.string(object, key, at: path) else { continue }
            let resolved = resolve(value, in: folder)
            if checkFiles && !FileManager.default.fileExists(atPath: resolved) {
                reader.report("\(path).\(key)", "file not found: \(value) (\(key == "weights" ? DatasetHints.weights : "train first, or point at an existing checkpoint"))")
            }
            if key == "weights" { spec.weights = resolved } else { spec.checkpoint = resolved }
        }
        // The transform is a choice of the causal-tune adapter only.
        if let transform, spec.adapter.kind != .causalTune, !reader.problems.contains(where: { $0.path == path + ".adapter" }) {
            reader.report(path + ".transform", "\"\(transform.rawValue)\" applies to the causal-tune adapter only; adapter \(spec.adapter.kind.rawValue) has no frequency transform (remove \"transform\")")
        }
        if spec.head == .mask2former {
            if let checkpoint = spec.checkpoint {
                let recorded = spec.mask2former.statedKeys.subtracting(Manifest.ModelSpec.Mask2FormerHeadSpec.unrecordedKeys)
                if let key = recorded.sorted().first {
                    reader.report(path + ".mask2former." + key, "the head's sizes come from the checkpoint \(checkpoint); next to a checkpoint give only heads, points and groups (what its shapes do not record), the others only to train a head from scratch (without \"checkpoint\")")
                }
                if !spec.stated.contains(.adapter) {
                    reader.report(path + ".adapter", "required with the mask2former head and a checkpoint: an MMSegmentation checkpoint does not say what its adapter computes (rein, causal-tune-released or causal-tune)")
                }
                if spec.adapter.kind == .causalTune, spec.adapter.transform != .dct {
                    reader.report(path + ".transform", "the mask2former head runs released checkpoints, whose causal-tune adapter uses the DCT; \"\(spec.adapter.transform.rawValue)\" is not available there")
                }
            }
            if spec.adapter.kind == .causalTuneReleased {
                // The released adapter's filter is fixed by the released code; the settings do not apply.
                for setting in [Manifest.ModelSpec.Setting.transform, .filter, .dl, .dh] where spec.stated.contains(setting) {
                    reader.report(path + "." + setting.rawValue, "does not apply to the causal-tune-released adapter (it replays the released LoRAReins.forward, whose transform and filter are fixed); remove it")
                }
            }
            if spec.mask2former.stated, spec.stated.contains(.tokens), spec.adapter.tokens != spec.mask2former.queries {
                reader.report(path + ".tokens", "\(spec.adapter.tokens) adapter tokens, but mask2former.queries is \(spec.mask2former.queries): Rein's queries are the adapter's tokens; give one of the two")
            }
        } else if spec.mask2former.stated {
            reader.report(path + ".mask2former", "applies to \"head\": \"mask2former\" only (the head is \(spec.head.rawValue))")
        }
        return spec
    }
}
