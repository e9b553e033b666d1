// ResizeRuleTests.swift — output sizes of the keep-ratio, shortest-edge and
// random-choice resizes against the mmcv/mmseg formulas, and the label
// nearest resize against cv2.INTER_NEAREST.

@testable import Augment
import ImageIO
import TestSupport
import Testing

@Suite struct ResizeRuleTests {
    @Test func keepRatioSizesMatchMmcv() throws {
        let fx = try fixtures.augment()
        #expect(fx.keepRatio.count > 50)
        for c in fx.keepRatio {
            let out = KeepRatioResize.rescaledSize(ImageSize(width: c.size[0], height: c.size[1]),
                                                   scale: ImageSize(width: c.scale[0], height: c.scale[1]))
            #expect([out.width, out.height] == c.out, "\(c.size) to \(c.scale)")
        }
    }

    @Test func factSheetTestExamples() {
        func fit(_ w: Int, _ h: Int, _ sw: Int, _ sh: Int) -> ImageSize {
            KeepRatioResize.rescaledSize(ImageSize(width: w, height: h), scale: ImageSize(width: sw, height: sh))
        }
        #expect(fit(2048, 1024, 1024, 512) == ImageSize(width: 1024, height: 512))
        #expect(fit(2016, 1512, 1024, 512) == ImageSize(width: 683, height: 512))
        #expect(fit(960, 540, 1024, 512) == ImageSize(width: 910, height: 512))
        #expect(fit(1512, 2016, 1024, 512) == ImageSize(width: 512, height: 683))
        #expect(fit(1914, 1052, 1280, 720) == ImageSize(width: 1280, height: 704))
        #expect(fit(1920, 1080, 960, 540) == ImageSize(width: 960, height: 540))
        #expect(fit(1280, 720, 1280, 720) == ImageSize(width: 1280, height: 720))
    }

    @Test func scaleListsMatchConfigs() throws {
        let fx = try fixtures.augment()
        #expect(RandomChoiceResize.scales(base: 512) == fx.scales512)
        #expect(RandomChoiceResize.scales(base: 1024) == fx.scales1024)
        #expect(fx.scales512 == [256, 307, 358, 409, 460, 512, 563, 614, 665, 716, 768, 819, 870, 921, 972, 1024])
        #expect(RandomChoiceResize.config512.maxSize == 2048)
    }

    @Test func shortestEdgeMatchesMmseg() throws {
        let fx = try fixtures.augment()
        for c in fx.shortestEdge {
            let rule = ResizeShortestEdge(shortEdge: c.short, maxSize: c.max)
            let size = ImageSize(width: c.size[0], height: c.size[1])
            let target = rule.targetScale(for: size), out = rule.outputSize(for: size)
            #expect([target.width, target.height] == c.target, "\(c.size) s=\(c.short) target")
            #expect([out.width, out.height] == c.out, "\(c.size) s=\(c.short) output")
        }
    }

    @Test func factSheetTrainingExamples() {
        func out(_ w: Int, _ h: Int, _ s: Int) -> ImageSize {
            ResizeShortestEdge(shortEdge: s, maxSize: 2048).outputSize(for: ImageSize(width: w, height: h))
        }
        #expect(out(1914, 1052, 256) == ImageSize(width: 466, height: 256))
        #expect(out(1914, 1052, 512) == ImageSize(width: 932, height: 512))
        #expect(out(1914, 1052, 1024) == ImageSize(width: 1863, height: 1024))
        #expect(out(2048, 1024, 256) == ImageSize(width: 512, height: 256))
        #expect(out(2048, 1024, 1024) == ImageSize(width: 2048, height: 1024))
    }

    @Test func randomChoiceResizeDrawsOneIndex() throws {
        let image = Image8(width: 1914, height: 1052, channels: 3, filledWith: 9)
        let label = LabelMap(width: 1914, height: 1052, channels: 1, filledWith: 4)
        var random = ScriptedRandom([.int(0)])
        let (i, l, s) = try RandomChoiceResize.config512.apply(image: image, label: label, random: &random)
        #expect(random.log == ["int 0..<16"])
        #expect(s == 256)
        #expect(i.width == 466 && i.height == 256 && l.width == 466 && l.height == 256)
        #expect(l.pixels.allSatisfy { $0 == 4 } && i.pixels.allSatisfy { $0 == 9 })
    }

    @Test func labelNearestMatchesOpenCV() throws {
        let fx = try fixtures.augment()
        let label = try fixtures.raster("nearest_in.npy")
        let expected = try fixtures.raster("nearest_out.npy")
        let resized = try KeepRatioResize(scale: ImageSize(width: fx.nearestScale[0], height: fx.nearestScale[1]))
            .apply(label: label)
        #expect(resized == expected)
    }

    /// OpenCV INTER_NEAREST computes `floor(d * (1 / (dst / src)))`, which differs from
    /// `floor(d * (src / dst))` by one source index for some size pairs (here 2016 -> 1296 wide).
    @Test func labelNearestOpenCVReciprocalScale() throws {
        let input = try fixtures.raster("nearest_wide_in.npy")
        let expected = try fixtures.raster("nearest_wide_out.npy")
        #expect(Resize.nearest(input, width: expected.width, height: expected.height, rule: .opencv) == expected)
    }

    @Test func rejectsEmptyAndMismatchedInputs() {
        let resize = RandomChoiceResize.config512
        var random = ScriptedRandom([.int(0)])
        #expect(throws: AugmentError.self) {
            try resize.apply(image: Image8(width: 4, height: 4, channels: 3, filledWith: 0),
                             label: LabelMap(width: 5, height: 4, channels: 1, filledWith: 0), random: &random)
        }
        #expect(throws: AugmentError.self) {
            try KeepRatioResize(scale: ImageSize(width: 0, height: 10))
                .apply(image: Image8(width: 4, height: 4, channels: 3, filledWith: 0))
        }
    }
}
