// ModelBuilder.swift — the segmentation model a manifest's `model` section
// describes, built once per run: a ctpipe checkpoint (optionally with `weights`
// replacing its backbone), or backbone `weights` plus the adapter settings with
// freshly initialised adapter and head (seeded by the manifest's seed; useful
// for timing and for the train stage's starting point, not for predictions).
// Settings given explicitly next to a checkpoint must agree with it.
// Without weights or checkpoint, a pipeline that trains starts from a
// randomly initialised backbone of the named size (the `tiny` demo), its
// position grid sized to the training crop. The segmenter wraps a model with
// the manifest's slide window (`Manifest.slideWindow`); each dataset's
// evaluation path (Evaluation.Evaluator) adds its test scale.

import CTCore
import Evaluation
import Foundation
import Inference
import ManifestSchema
import Model
import RunFolder

enum ModelBuilder {
    /// The infer stage's segmenter: `network` with the manifest's slide window.
    static func segmenter(_ network: any WindowNetwork, window: Manifest.SlideWindow) throws -> Segmenter {
        do { return try Segmenter(network: network, window: SlidingWindow(crop: window.crop, stride: window.stride)) } catch {
            throw RunError("$.model.crop: \(error)")
        }
    }

    /// The infer stage's network: a released Mask2Former checkpoint (`head: mask2former`, an
    /// MMSegmentation `.pth` with `weights` and the stated adapter), or the linear-head model `build` makes.
    static func network(_ spec: Manifest.ModelSpec, seed: Int) throws -> any WindowNetwork {
        guard spec.head == .mask2former else { return try build(spec, seed: seed) }
        return try mask2former(spec, seed: seed)
    }

    /// The Mask2Former model of the manifest: its checkpoint (an MMSegmentation `.pth` with `weights`
    /// and the stated adapter, recognised by content, or a ctpipe Mask2Former file), or — for the train
    /// stage — a new one of `model.mask2former`'s sizes on the backbone `weights` (or a randomly
    /// initialised backbone of the named size), initialised as mmdet initialises it, seeded.
    /// `model.trainable`: the backbone trains too (`training(backbone: true)`).
    static func mask2former(_ spec: Manifest.ModelSpec, seed: Int, cropSize: Int = 512,
                            allowRandomBackbone: Bool = false) throws -> Mask2FormerModel {
        var model: Mask2FormerModel
        if let checkpoint = spec.checkpoint {
            let isTorch: Bool
            do { isTorch = try RegularFile(path: checkpoint).read(4, at: 0) == [0x50, 0x4B, 0x03, 0x04] } catch {
                throw RunError("$.model.checkpoint: \(error)")
            }
            do {
                if isTorch {
                    // What the shapes do not record: Rein's sizes, or those `model.mask2former` gives.
                    let h = spec.mask2former
                    model = try Mask2FormerModel.load(checkpoint: checkpoint, weights: spec.weights, adapter: spec.adapter.kind,
                                                      options: Mask2FormerLoadOptions(backbone: WeightLoadOptions(interpolation: spec.interpolation),
                                                                                      heads: h.heads, points: h.points, groupNormGroups: h.groups,
                                                                                      decoderHeads: h.heads))
                } else {
                    model = try Mask2FormerModel.load(ctpipe: checkpoint)
                    if model.config.adapter.kind != spec.adapter.kind {
                        throw RunError("$.model.adapter: \(spec.adapter.kind.rawValue), but the checkpoint \(checkpoint) holds a \(model.config.adapter.kind.rawValue) adapter")
                    }
                }
            } catch let error as RunError { throw error } catch { throw RunError("$.model.checkpoint: \(error)") }
        } else {
            let backbone = try backbone(spec, seed: seed, cropSize: cropSize, allowRandom: allowRandomBackbone)
            do {
                model = try Mask2FormerModel.initialised(config: spec.mask2formerConfig(backbone: backbone.config), backbone: backbone,
                                                         seed: UInt64(seed))
            } catch { throw RunError("$.model.mask2former: \(error)") }
        }
        return spec.trainable ? model.training(backbone: true) : model
    }

    /// The backbone of `weights`, or (allowRandom: a pipeline that trains) a randomly initialised one of
    /// the named size, its position grid sized to the training crop.
    static func backbone(_ spec: Manifest.ModelSpec, seed: Int, cropSize: Int, allowRandom: Bool) throws -> DINOv2 {
        let name = spec.backbone.rawValue
        let backbone: DINOv2
        if let weights = spec.weights {
            do { backbone = try DINOv2Weights.load(weights, options: WeightLoadOptions(interpolation: spec.interpolation)).model } catch {
                throw RunError("$.model.weights: \(error)")
            }
        } else if allowRandom, var config = spec.backboneConfig {
            guard cropSize % config.patchSize == 0 else {
                throw RunError("$.training.crop_size: \(cropSize) is not a multiple of the \(name) patch size \(config.patchSize)")
            }
            config.gridSize = cropSize / config.patchSize
            if let interpolation = spec.interpolation { config.interpolation = interpolation }
            guard config.ffn == .mlp else {
                throw RunError("$.model: a randomly initialised \(name) is not supported (SwiGLU blocks); give \"weights\"")
            }
            backbone = DINOv2.randomlyInitialised(config: config, seed: UInt64(seed) &+ 0xB0B0)
        } else {
            throw RunError("$.model: give \"checkpoint\" (a trained model) or \"weights\" (backbone weights) for the infer stage")
        }
        if let expected = spec.backboneConfig,
           expected.embedDim != backbone.config.embedDim || expected.depth != backbone.config.depth {
            throw RunError("$.model: backbone \(name) has C = \(expected.embedDim) and \(expected.depth) blocks, but \(spec.weights ?? "the backbone") has C = \(backbone.config.embedDim) and \(backbone.config.depth)")
        }
        return backbone
    }

    static func build(_ spec: Manifest.ModelSpec, seed: Int, cropSize: Int = 512,
                      allowRandomBackbone: Bool = false) throws -> SegmentationModel {
        let adapter = spec.adapter
        let name = spec.backbone.rawValue
        if let checkpoint = spec.checkpoint {
            let model: SegmentationModel
            do { model = try SegmentationCheckpoint.load(checkpoint, options: CheckpointLoadOptions(backboneWeights: spec.weights)) } catch {
                throw RunError("$.model.checkpoint: \(error)")
            }
            let stored = model.config.adapter
            let stated = spec.stated
            var conflicts: [String] = []
            if stated.contains(.adapter), stored.kind != adapter.kind { conflicts.append("adapter \(adapter.kind.rawValue) vs \(stored.kind.rawValue)") }
            if stored.kind == .causalTune {
                if stated.contains(.transform), stored.transform != adapter.transform {
                    conflicts.append("transform \(adapter.transform.rawValue) vs \(stored.transform.rawValue)")
                }
                if stated.contains(.filter), stored.filter != adapter.filter { conflicts.append("filter \(adapter.filter.rawValue) vs \(stored.filter.rawValue)") }
                if stated.contains(.dl), stored.dl != adapter.dl { conflicts.append("dl \(adapter.dl) vs \(stored.dl)") }
                if stated.contains(.dh), stored.dh != adapter.dh { conflicts.append("dh \(adapter.dh) vs \(stored.dh)") }
            }
            if stated.contains(.tokens), stored.kind != .none, stored.tokens != adapter.tokens { conflicts.append("tokens \(adapter.tokens) vs \(stored.tokens)") }
            if stated.contains(.rank), stored.kind != .none, stored.rank != adapter.rank { conflicts.append("rank \(adapter.rank) vs \(stored.rank)") }
            if let storedName = model.config.backboneName, stated.contains(.backbone), storedName != name {
                conflicts.append("backbone \(name) vs \(storedName)")
            }
            if !conflicts.isEmpty {
                throw RunError("$.model: the manifest disagrees with the checkpoint \(checkpoint) (manifest vs checkpoint): \(conflicts.joined(separator: "; "))")
            }
            return model
        }
        let backbone = try backbone(spec, seed: seed, cropSize: cropSize, allowRandom: allowRandomBackbone)
        let weights = spec.weights
        do {
            var model = try SegmentationModel.initialised(backbone: backbone, backboneName: name, backboneWeights: weights,
                                                          adapter: adapter, seed: UInt64(seed))
            if spec.trainable {
                var config = model.config
                config.trainable = true
                model = try SegmentationModel(config: config, backbone: model.backbone, adapter: model.adapter, head: model.head)
            }
            return model
        } catch { throw RunError("$.model: \(error)") }
    }
}
