// SlideWindowManifestTests.swift — `model.crop` / `model.stride`: validated by
// the manifest loader, and the window the runner's infer stage slides.

import CTCore
import Foundation
import ImageIO
import Inference
import ManifestSchema
import Metrics
import Model
import PipelineRunner
import RunFolder
import Testing

@Suite(.serialized) struct SlideWindowManifestTests {
    static let pipeline = #"{"version": 1, "stages": ["read", "infer", "metric"]}"#

    @Test func defaultsAndExplicitValues() throws {
        let fixture = try ManifestFixture()
        let plain = try ManifestLoader.load(try fixture.write("""
        {"version": 1, "name": "w", "pipeline": \(Self.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}], "model": {"backbone": "vits14"}}
        """))
        #expect(plain.slideWindow == Manifest.SlideWindow(crop: 512, stride: 341), "the training crop and two thirds of it")
        let large = try ManifestLoader.load(try fixture.write("""
        {"version": 1, "name": "w", "pipeline": \(Self.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}],
         "model": {"backbone": "vits14", "crop": 1024, "stride": 683}}
        """, name: "large.json"))
        #expect(large.slideWindow == Manifest.SlideWindow(crop: 1024, stride: 683))
        #expect(large.configurationHash != plain.configurationHash, "the window is part of the configuration")
    }

    @Test func badValuesAreReportedWithTheirPaths() throws {
        let fixture = try ManifestFixture()
        func problems(_ model: String) throws -> [String] {
            try fixture.problems("""
            {"version": 1, "name": "w", "pipeline": \(Self.pipeline),
             "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}], "model": \(model)}
            """)
        }
        #expect(try problems(#"{"crop": 0, "stride": "half"}"#)
            == ["$.model.crop: 0 is out of range 1...8192", "$.model.stride: expected an integer, found a string"])
        #expect(try problems(#"{"crop": 256, "stride": 300}"#)
            == ["$.model.stride: 300 is larger than the crop 256: windows would leave pixels unpredicted"])
        #expect(try problems(#"{"stride": 600}"#)
            == ["$.model.stride: 600 is larger than the crop 512: windows would leave pixels unpredicted"])
        #expect(try problems(#"{"crop": "big", "stride": 600}"#) == ["$.model.crop: expected an integer, found a string"],
                "no second problem about a crop that was not read")
        #expect(try problems(#"{"crops": 512}"#).first?.hasPrefix(#"$.model.crops: unknown key (did you mean "crop"?)"#) == true)
    }

    /// With crop 32 / stride 16 a 48 x 24 resized frame is covered by 2 windows (the default 512 / 341: 1 padded window);
    /// the runner's predictions are those of the 32 / 16 segmenter and differ from the default's.
    @Test func inferStageSlidesTheManifestsWindow() throws {
        let fixture = try ScoringFixture()
        let model = try InferStageTests.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let path = fixture.folder + "/window.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "window", "pipeline": {"version": 1, "stages": ["read", "infer", "metric", "write"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city", "scale": [48, 24]}],
         "model": {"checkpoint": "model.safetensors", "crop": 32, "stride": 16},
         "outputs": {"dir": "runs", "formats": ["trainid"]}, "execution": {"shards": 2, "workers": 2}}
        """, to: path)
        var options = RunOptions()
        options.quiet = true
        let summary = try Runner(manifest: try ManifestLoader.load(path), options: options).run()
        #expect(summary.report?["city"]?.images == 5)

        let events = try String(contentsOfFile: summary.runDirectory + "/events.jsonl", encoding: .utf8)
        let modelEvent = try #require(events.split(separator: "\n").first { $0.contains(#""event":"model""#) })
        #expect(modelEvent.contains(#""crop":32"#) && modelEvent.contains(#""stride":16"#), "\(modelEvent)")

        let custom = try Segmenter(model: model, window: SlidingWindow(crop: 32, stride: 16))
        let standard = try Segmenter(model: model)
        #expect(custom.window.windows(height: 24, width: 48)
            == [Window(y0: 0, y1: 24, x0: 0, x1: 32), Window(y0: 0, y1: 24, x0: 16, x1: 48)])
        #expect(standard.window.windows(height: 24, width: 48).count == 1)
        let workspace = SegmenterWorkspace(threads: 2)
        var differing = 0
        for id in ["frankfurt/frankfurt_000000_000019", "lindau/lindau_000003_000007", "munster/munster_000001_000005"] {
            let parts = id.split(separator: "/")
            let image = try ImageFile.readRGB("\(fixture.folder)/cityscapes/leftImg8bit/val/\(parts[0])/\(parts[1])_leftImg8bit.png")
            let resized = Resize.bilinear(image, width: 48, height: 24)
            let expected = try custom.segment(resized, outputHeight: image.height, outputWidth: image.width, workspace: workspace)
            let written = try ImageFile.readLabel("\(summary.runDirectory)/outputs/city/trainid/\(id).png")
            #expect(written.pixels == expected.pixels, "\(id)")
            let single = try standard.segment(resized, outputHeight: image.height, outputWidth: image.width, workspace: workspace)
            if single.pixels != written.pixels { differing += 1 }
        }
        #expect(differing > 0, "the default window would have predicted the same labels: the test could not tell the windows apart")
    }

    @Test func cropThatIsNotAMultipleOfThePatchIsRefused() throws {
        let fixture = try ScoringFixture()
        _ = try InferStageTests.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let path = fixture.folder + "/odd.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "odd", "pipeline": \(Self.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "model": {"checkpoint": "model.safetensors", "crop": 40, "stride": 20}}
        """, to: path)
        // Validation reads the patch size from the checkpoint's configuration (PatchSizeManifestTests).
        #expect { try ManifestLoader.load(path) } throws: { error in
            (error as? ManifestError)?.problems.map(\.path) == ["$.model.crop"]
        }
        // The model built by the run checks it again (a manifest loaded without file checks).
        var options = RunOptions()
        options.quiet = true
        #expect {
            try Runner(manifest: try ManifestLoader.load(path, checkFiles: false), options: options).run()
        } throws: { error in
            "\(error)".hasPrefix("$.model.crop: crop 40 is not a multiple of the patch size 16")
        }
    }
}
