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
        /// `mask2former`: a released Rein / Causal-Tune checkpoint (MMSegmentation `.pth`) with the
        /// Mask2Former head, run for inference (docs/mask2former.md).
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

        public init() {}

        /// The architecture of the named backbone.
        public var backboneConfig: DINOv2Config? { DINOv2Config.named(backbone.rawValue) }

        /// Why the train stage cannot train this model (nil: it can): the field and the reason.
        public var trainingProblem: (field: String, reason: String)? {
            if head == .mask2former {
                return ("head", "the mask2former head runs released checkpoints for inference; the train stage trains the linear head")
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

extension ManifestLoader {
    static let modelKeys = ["backbone", "weights", "checkpoint", "adapter", "transform", "filter", "head", "dl", "dh", "tokens",
                            "rank", "trainable", "registers_interpolation", "crop", "stride"]

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
            if spec.adapter.kind == .causalTune, spec.adapter.transform != .dct {
                reader.report(path + ".transform", "the mask2former head runs released checkpoints, whose causal-tune adapter uses the DCT; \"\(spec.adapter.transform.rawValue)\" is not available there")
            }
            if spec.checkpoint == nil {
                reader.report(path + ".checkpoint", "the mask2former head runs a trained checkpoint (an MMSegmentation .pth of Rein or Causal-Tune); give its path")
            }
            if !spec.stated.contains(.adapter) {
                reader.report(path + ".adapter", "required with the mask2former head: an MMSegmentation checkpoint does not say what its adapter computes (rein, causal-tune-released or causal-tune)")
            }
        }
        return spec
    }
}
