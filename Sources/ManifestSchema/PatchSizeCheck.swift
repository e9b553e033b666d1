// PatchSizeCheck.swift — the crops a manifest asks for, checked against the
// patch size of the model its run builds, while validating (before anything
// runs; a pipeline that trains would otherwise refuse its slide window only
// after training). The rules are the model's own:
//   train stage   training.crop_size is a multiple of the patch size
//                 (Training.SegmentationTrainer: the backbone's activations)
//   infer stage   the slide window, model.crop (else training.crop_size), is
//                 a multiple of the patch size (Inference.Segmenter); the
//                 trained model keeps the patch size it started with
// The patch size comes from where ModelBuilder (PipelineRunner) takes the
// backbone, read from file headers only (Model/WeightFileHeader.swift):
//   head mask2former   with a checkpoint: the DINOv2 weights (model.weights), else
//                      the backbone tensors the checkpoint embeds: patch_embed.proj.weight;
//                      trained from scratch: as the linear head's weights or named backbone
//   model.checkpoint   the backbone configuration in its ctpipe.config metadata
//                      (weights given next to it must match it)
//   model.weights      the patch embedding kernel's shape [C, 3, p, p] (a patch-16
//                      conversion, `ctpipe convert-weights --patch-size 16`, is
//                      read off the converted file)
//   neither            the named backbone (model.backbone), randomly initialised
//                      when the pipeline trains; an infer-only pipeline needs a file
// A file that is missing or cannot be read gives no patch size: validation
// reports a missing file already, and the run names what is wrong with one it
// cannot read.

import Foundation
import Model

extension Manifest.ModelSpec {
    /// The patch size of the backbone a run builds, and where it was read.
    struct PatchSource: Equatable {
        var patchSize: Int
        /// How messages name the source: "the backbone tiny", "the weights <path> (tensor ...)".
        var origin: String
    }

    /// The patch size of the model a run of this section builds; nil when it cannot be told (no
    /// source, a file that cannot be read, or `readFiles` false). `trains`: the pipeline trains, so a
    /// randomly initialised backbone of the named size is built when no file is given.
    func patchSource(trains: Bool, readFiles: Bool) -> PatchSource? {
        func fromWeights(_ path: String, _ what: String) -> PatchSource? {
            guard let header = try? WeightFileHeader.read(path), let found = DINOv2Weights.patchSize(in: header) else { return nil }
            return PatchSource(patchSize: found.patchSize, origin: "\(what) \(path) (tensor '\(found.tensor)' \(header.shapes[found.tensor] ?? []))")
        }
        if head == .mask2former, let checkpoint {
            guard readFiles else { return nil }
            return weights.map { fromWeights($0, "the weights") } ?? fromWeights(checkpoint, "the backbone embedded in the checkpoint")
        }
        if let checkpoint {
            // A configuration with an impossible patch size is the run's to refuse (SegmentationConfig.problems).
            guard readFiles, let header = try? WeightFileHeader.read(checkpoint),
                  let config = try? SegmentationCheckpoint.config(of: SafeTensorsFile(tensors: [:], metadata: header.metadata), path: checkpoint),
                  config.backbone.patchSize > 0
            else { return nil }
            return PatchSource(patchSize: config.backbone.patchSize,
                               origin: "the checkpoint \(checkpoint) (metadata '\(DINOv2Weights.configKey)')")
        }
        if let weights { return readFiles ? fromWeights(weights, "the weights") : nil }
        guard trains, let config = backboneConfig else { return nil }
        return PatchSource(patchSize: config.patchSize, origin: "the backbone \(backbone.rawValue)")
    }
}

extension ManifestLoader {
    /// Reports `training.crop_size` (train stage) and the slide window (infer stage) where they are
    /// not multiples of the model's patch size, at the field that sets them. Fields already reported
    /// (unreadable, out of range) are not checked again.
    static func checkPatchSize(_ model: Manifest.ModelSpec, training: Manifest.TrainingSpec, pipeline: PipelineSpec,
                               readFiles: Bool, reader: inout FieldReader) {
        let trains = pipeline.has(.train), infers = pipeline.has(.infer)
        guard trains || infers, let source = model.patchSource(trains: trains, readFiles: readFiles) else { return }
        var checks: [(field: String, crop: Int)] = []
        if trains { checks.append(("$.training.crop_size", training.cropSize)) }
        var reported = Set(reader.problems.map(\.path))
        if infers && !reported.contains("$.model.crop") {
            checks.append(model.crop.map { ("$.model.crop", $0) } ?? ("$.training.crop_size", training.cropSize))
        }
        let p = source.patchSize
        for (field, crop) in checks where crop % p != 0 && !reported.contains(field) {
            reported.insert(field)
            let lower = crop / p * p, upper = lower + p
            let examples = (lower > 0 ? "\(lower) or \(upper)" : "\(upper)")
            reader.report(field, "\(crop) is not a multiple of the patch size \(p) of \(source.origin); use a crop such as \(examples)")
        }
    }
}
