// WeightTargets.swift — weight and checkpoint files through every reader a user's
// file meets: the format parsers on the bytes, then the loaders on a file
// (DINOv2 backbones, MMSegmentation Mask2Former checkpoints, ctpipe checkpoints).

import Foundation
import Model

enum WeightTargets {
    static func pth(_ bytes: [UInt8], in workspace: FuzzWorkspace) -> [String] {
        let path = workspace.file("input.pth", bytes)
        return [
            step("mmseg checkpoint") { () throws(WeightError) in
                let file = try withRaw(bytes) { raw throws(WeightError) in try MMSegCheckpoint.parse(raw, path: path) }
                return "\(file.adapter.count) adapter, \(file.head.count) head, \(file.backbone.count) backbone tensors"
            },
            step("dinov2") { () throws(WeightError) in "\(try DINOv2Weights.load(path).kind)" },
            step("mask2former") { () throws(WeightError) in
                let model = try Mask2FormerModel.load(checkpoint: path, weights: nil, adapter: .rein)
                return "\(model.classes) classes"
            },
        ]
    }

    static func safetensors(_ bytes: [UInt8], in workspace: FuzzWorkspace) -> [String] {
        let path = workspace.file("input.safetensors", bytes)
        return [
            step("safetensors") { () throws(WeightError) in
                let file = try withRaw(bytes) { raw throws(WeightError) in try SafeTensors.parse(raw, path: path) }
                return "\(file.tensors.count) tensors"
            },
            step("dinov2") { () throws(WeightError) in "\(try DINOv2Weights.load(path).kind)" },
            step("ctpipe checkpoint") { () throws(WeightError) in
                "\(try SegmentationCheckpoint.load(path).config.adapter.kind.rawValue)"
            },
            step("ctpipe mask2former") { () throws(WeightError) in
                "\(try Mask2FormerModel.load(ctpipe: path).classes) classes"
            },
        ]
    }

    /// `body` over the bytes, keeping its typed error.
    static func withRaw<T>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WeightError) -> T) throws(WeightError) -> T {
        let result = bytes.withUnsafeBytes { raw -> Result<T, WeightError> in
            do throws(WeightError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
