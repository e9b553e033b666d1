// FuzzTarget.swift — the readers ctpipe exposes to files it did not write, each
// as one function from bytes to an outcome: what `ctfuzz` runs under libFuzzer
// (scripts/fuzz.sh, CI) and what the regression tests replay.
//
// A target never throws: every reader's refusal is an outcome like any other.
// What counts as a failure is what the fuzzer watches for: a crash (a Swift trap
// included), a hang, or an allocation beyond the bound the limits below imply.

import CTCore
import Foundation
import ImageIO

/// One reader under test.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// PNG images and label maps (libpng under ct_png.c, ImageIO).
    case png
    /// JPEG images (libjpeg under ct_jpeg.c, ImageIO).
    case jpeg
    /// `.pth` files as a whole: zip, pickle, tensors, MMSeg split, DINOv2 and Mask2Former loading.
    case pth
    /// The pickle inside a `.pth`: the input becomes `data.pkl` of a well-formed zip (CRCs right,
    /// storages present), so mutations reach the unpickler and the tensor rebuilding.
    case pickle
    /// safetensors files: header, ranges, DINOv2 and ctpipe checkpoint loading.
    case safetensors
    /// NumPy `.npy` arrays.
    case npy
    /// Manifest JSON: size, encoding, JSON, schema and the checks `validate` makes.
    case manifest
    /// Label PNGs inside a dataset tree of each of the five kinds (first byte: the kind).
    case labels

    public var summary: String {
        switch self {
        case .png: "PNG decoding (RGB and label maps)"
        case .jpeg: "JPEG decoding"
        case .pth: ".pth checkpoints (zip + pickle): MMSeg split, DINOv2 and Mask2Former loading"
        case .pickle: "the pickle of a .pth inside a well-formed zip"
        case .safetensors: "safetensors files: DINOv2 weights, ctpipe checkpoints"
        case .npy: "NumPy .npy arrays"
        case .manifest: "manifest JSON and its validation"
        case .labels: "label PNGs in Cityscapes, GTA5, ACDC, BDD100K and Mapillary trees"
        }
    }

    /// Pixel limit of the image targets: small enough that every allocation the
    /// decoders may make stays far below the fuzzer's per-allocation limit.
    public static let limits = DecodeLimits(maxPixels: 1 << 20, maxDecoderMemory: 16 << 20)

    /// Runs one input; returns one line per reader step: "<step>: accepted ..." or "<step>: refused: <why>".
    public func run(_ bytes: [UInt8], in workspace: FuzzWorkspace) -> [String] {
        switch self {
        case .png: ImageTargets.png(bytes)
        case .jpeg: ImageTargets.jpeg(bytes)
        case .pth: WeightTargets.pth(bytes, in: workspace)
        case .pickle: WeightTargets.pth(PickleArchive.wrap(bytes), in: workspace)
        case .safetensors: WeightTargets.safetensors(bytes, in: workspace)
        case .npy: [step("npy") { () throws(FileError) in
            let array = try NPYArray.decode(bytes, path: "input.npy")
            return "\(array.dtype) \(array.shape)"
        }]
        case .manifest: ManifestTarget.run(bytes, in: workspace)
        case .labels: LabelTreeTarget.run(bytes, in: workspace)
        }
    }

    /// Corpus entries made from a fixture file (most targets: the file itself).
    public func seeds(fromFixture bytes: [UInt8], index: Int) -> [[UInt8]] {
        switch self {
        case .pickle: PickleArchive.pickle(ofArchive: bytes).map { [$0] } ?? []
        case .labels: [[UInt8(index % DatasetKindByte.count)] + bytes]
        default: [bytes]
        }
    }

    /// Corpus entries the target makes itself (the labels target: each kind's own label files).
    public func builtInSeeds(in workspace: FuzzWorkspace) -> [[UInt8]] {
        switch self {
        case .labels: LabelTreeTarget.seeds(in: workspace)
        default: []
        }
    }
}

/// Runs one reader step, turning its error into a line.
func step<E: Error>(_ name: String, _ body: () throws(E) -> String) -> String {
    do { return "\(name): accepted \(try body())" } catch {
        let text = "\(error)"
        return "\(name): refused: \(text.isEmpty ? "(empty message)" : text)"
    }
}
