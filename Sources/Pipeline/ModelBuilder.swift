// ModelBuilder.swift — the segmentation model a manifest's `model` section
// describes, built once per run: a ctpipe checkpoint (optionally with `weights`
// replacing its backbone), or backbone `weights` plus the adapter settings with
// freshly initialised adapter and head (seeded by the manifest's seed; useful
// for timing and for the train stage's starting point, not for predictions).
// Settings given explicitly next to a checkpoint must agree with it.
// Without weights or checkpoint, a pipeline that trains starts from a
// randomly initialised backbone of the named size (the `tiny` demo), its
// position grid sized to the training crop. The segmenter wraps a model with
// the manifest's slide window (`Manifest.slideWindow`).

import Foundation
import Inference
import Model

enum ModelBuilder {
    /// The infer stage's segmenter: `model` with the manifest's slide window.
    static func segmenter(_ model: SegmentationModel, window: Manifest.SlideWindow) throws -> Segmenter {
        do { return try Segmenter(model: model, window: SlidingWindow(crop: window.crop, stride: window.stride)) } catch {
            throw RunError("$.model.crop: \(error)")
        }
    }

    static func build(_ spec: Manifest.ModelSpec, seed: Int, cropSize: Int = 512,
                      allowRandomBackbone: Bool = false) throws -> SegmentationModel {
        guard case .object(let raw) = spec.raw else { throw RunError("$.model: expected an object") }
        let interpolation: PositionInterpolation?
        switch raw["registers_interpolation"] {
        case nil: interpolation = nil
        case .string(let name)?:
            guard let value = PositionInterpolation(rawValue: name) else {
                throw RunError("$.model.registers_interpolation: \"\(name)\" is not one of offset, antialiased, size")
            }
            interpolation = value
        case let other?: throw RunError("$.model.registers_interpolation: expected a string, found \(other.typeName)")
        }
        var adapter = AdapterConfig()
        guard let kind = AdapterKind(rawValue: spec.adapter), let filter = FrequencyFilter(rawValue: spec.filter) else {
            throw RunError("$.model: adapter \"\(spec.adapter)\" / filter \"\(spec.filter)\" not supported")
        }
        adapter.kind = kind
        adapter.filter = filter
        if let v = number(raw["dl"]) { adapter.dl = v }
        if let v = number(raw["dh"]) { adapter.dh = v }
        if let v = integer(raw["tokens"]) { adapter.tokens = v }
        if let v = integer(raw["rank"]) { adapter.rank = v }
        let trainable = raw["trainable"] == .bool(true)

        if let checkpoint = spec.checkpoint {
            let model: SegmentationModel
            do { model = try SegmentationCheckpoint.load(checkpoint, options: CheckpointLoadOptions(backboneWeights: spec.weights)) } catch {
                throw RunError("$.model.checkpoint: \(error)")
            }
            let stored = model.config.adapter
            var conflicts: [String] = []
            if raw["adapter"] != nil, stored.kind != kind { conflicts.append("adapter \(kind.rawValue) vs \(stored.kind.rawValue)") }
            if stored.kind == .causalTune {
                if raw["filter"] != nil, stored.filter != filter { conflicts.append("filter \(filter.rawValue) vs \(stored.filter.rawValue)") }
                if raw["dl"] != nil, stored.dl != adapter.dl { conflicts.append("dl \(adapter.dl) vs \(stored.dl)") }
                if raw["dh"] != nil, stored.dh != adapter.dh { conflicts.append("dh \(adapter.dh) vs \(stored.dh)") }
            }
            if raw["tokens"] != nil, stored.kind != .none, stored.tokens != adapter.tokens { conflicts.append("tokens \(adapter.tokens) vs \(stored.tokens)") }
            if raw["rank"] != nil, stored.kind != .none, stored.rank != adapter.rank { conflicts.append("rank \(adapter.rank) vs \(stored.rank)") }
            if let name = model.config.backboneName, raw["backbone"] != nil, name != spec.backbone {
                conflicts.append("backbone \(spec.backbone) vs \(name)")
            }
            if !conflicts.isEmpty {
                throw RunError("$.model: the manifest disagrees with the checkpoint \(checkpoint) (manifest vs checkpoint): \(conflicts.joined(separator: "; "))")
            }
            return model
        }
        let backbone: DINOv2
        if let weights = spec.weights {
            do { backbone = try DINOv2Weights.load(weights, options: WeightLoadOptions(interpolation: interpolation)).model } catch {
                throw RunError("$.model.weights: \(error)")
            }
        } else if allowRandomBackbone, var config = DINOv2Config.named(spec.backbone) {
            guard cropSize % config.patchSize == 0 else {
                throw RunError("$.training.crop_size: \(cropSize) is not a multiple of the \(spec.backbone) patch size \(config.patchSize)")
            }
            config.gridSize = cropSize / config.patchSize
            if let interpolation { config.interpolation = interpolation }
            guard config.ffn == .mlp else {
                throw RunError("$.model: a randomly initialised \(spec.backbone) is not supported (SwiGLU blocks); give \"weights\"")
            }
            backbone = DINOv2.randomlyInitialised(config: config, seed: UInt64(seed) &+ 0xB0B0)
        } else {
            throw RunError("$.model: give \"checkpoint\" (a trained model) or \"weights\" (backbone weights) for the infer stage")
        }
        let weights = spec.weights
        if let expected = DINOv2Config.named(spec.backbone),
           expected.embedDim != backbone.config.embedDim || expected.depth != backbone.config.depth {
            throw RunError("$.model: backbone \(spec.backbone) has C = \(expected.embedDim) and \(expected.depth) blocks, but \(weights ?? "the backbone") has C = \(backbone.config.embedDim) and \(backbone.config.depth)")
        }
        do {
            var model = try SegmentationModel.initialised(backbone: backbone, backboneName: spec.backbone, backboneWeights: weights,
                                                          adapter: adapter, seed: UInt64(seed))
            if trainable {
                var config = model.config
                config.trainable = true
                model = try SegmentationModel(config: config, backbone: model.backbone, adapter: model.adapter, head: model.head)
            }
            return model
        } catch { throw RunError("$.model: \(error)") }
    }

    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let i)?: Double(i)
        case .double(let d)?: d
        default: nil
        }
    }

    static func integer(_ value: JSONValue?) -> Int? {
        if case .int(let i)? = value { return i }
        return nil
    }
}
