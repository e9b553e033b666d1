// ConvertMMSegCommandTests.swift — `ctpipe convert-weights IN OUT --to mmseg`:
// a ctpipe Mask2Former file becomes the MMSegmentation .pth that loads back to
// the same tensors (with --include-backbone, on its own); other inputs and an
// unwritable destination are refused naming the file and what it is.

import CTCore
import Foundation
import Model
import Testing

@Suite struct ConvertMMSegCommandTests {
    static func folder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-m2f-export-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func aMask2FormerFileExportsToMMSeg() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try Mask2FormerInferTests.model()
        try SafeTensors.write(model.ctpipeFile(), to: folder + "/model.safetensors")

        let result = try CTPipeBinary.run(["convert-weights", folder + "/model.safetensors", folder + "/model.pth", "--to", "mmseg"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"includes_backbone\" : false") && result.stdout.contains("\"adapter\" : \"rein\""))
        let file = try MMSegCheckpoint.read(folder + "/model.pth")
        #expect(file.backbone.isEmpty)
        let expected = model.stateDict()
        #expect(file.adapter.count + file.head.count == expected.keys.filter { !SegmentationModel.isBackboneParameter($0) }.count)
        for (name, tensor) in file.adapter.merging(file.head, uniquingKeysWith: { a, _ in a }) {
            #expect(tensor == expected[name], "\(name)")
        }
        #expect(file.classes == nil)   // 3 classes: no Cityscapes names to record

        let whole = try CTPipeBinary.run(["convert-weights", folder + "/model.safetensors", folder + "/whole.pth", "--to", "mmseg",
                                          "--include-backbone"])
        #expect(whole.status == 0, "\(whole.stderr)")
        let alone = try Mask2FormerModel.load(checkpoint: folder + "/whole.pth", weights: nil, adapter: .rein,
                                              options: Mask2FormerLoadOptions(backbone: WeightLoadOptions(heads: 4), heads: 4,
                                                                              groupNormGroups: 8, decoderHeads: 4, outIndices: [0, 1, 2, 3]))
        #expect(alone.stateDict() == expected)

        // For scripts/make_mmseg_export_fixtures.py --check (torch.load of these files): kept when asked.
        if let keep = ProcessInfo.processInfo.environment["CTPIPE_EXPORT_CHECK_DIR"] {
            try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            for name in ["model.safetensors", "model.pth", "whole.pth"] {
                try? FileManager.default.removeItem(atPath: keep + "/" + name)
                try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: keep + "/" + name)
            }
        }
    }

    @Test func otherInputsAndUnwritableDestinationsAreRefused() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try Mask2FormerInferTests.model()
        try SafeTensors.write(model.ctpipeFile(), to: folder + "/model.safetensors")
        try SafeTensors.write(DINOv2Weights.ctpipeFile(model.backbone), to: folder + "/backbone.safetensors")
        let linear = try SegmentationModel.initialised(backbone: model.backbone, adapter: AdapterConfig(kind: .rein, filter: .none, tokens: 5))
        try SegmentationCheckpoint.save(linear, to: folder + "/linear.safetensors", embedBackbone: true)
        try AtomicFile.write(Array("not weights".utf8), to: folder + "/junk.bin")

        let cases: [([String], [String])] = [
            (["convert-weights", folder + "/linear.safetensors", folder + "/o.pth", "--to", "mmseg"], ["linear.safetensors", "linear head", "not a Mask2Former model"]),
            (["convert-weights", folder + "/backbone.safetensors", folder + "/o.pth", "--to", "mmseg"], ["backbone.safetensors", "backbone weights", "not a Mask2Former model"]),
            (["convert-weights", folder + "/junk.bin", folder + "/o.pth", "--to", "mmseg"], ["junk.bin", "not a safetensors file"]),
            (["convert-weights", Mask2FormerInferTests.fixture + "/checkpoint.pth", folder + "/o.pth", "--to", "mmseg"], ["checkpoint.pth", "a PyTorch .pth", "ctpipe Mask2Former file"]),
            (["convert-weights", folder + "/missing.safetensors", folder + "/o.pth", "--to", "mmseg"], ["missing.safetensors"]),
            (["convert-weights", folder + "/model.safetensors", folder + "/junk.bin/o.pth", "--to", "mmseg"], ["junk.bin"]),
            (["convert-weights", folder + "/model.safetensors", folder + "/o.pth", "--include-backbone"], ["--include-backbone goes with --to mmseg"]),
            (["convert-weights", folder + "/model.safetensors", folder + "/o.pth", "--to", "mmseg", "--adapter", "rein"], ["--to mmseg"]),
            (["convert-weights", folder + "/model.safetensors", folder + "/o.pth", "--to", "onnx"], ["onnx"]),
        ]
        for (arguments, needles) in cases {
            let result = try CTPipeBinary.run(arguments)
            #expect(result.status != 0, "\(arguments)")
            for needle in needles { #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)") }
            #expect(!result.stderr.contains("Fatal error"), "\(arguments)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/o.pth"))
        // No temporary file is left behind by the refused write.
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "\(left)")
    }
}
