// ResizeTests.swift — Resize.bilinear against cv2.resize INTER_LINEAR and
// Resize.nearest against cv2 INTER_NEAREST / Pillow NEAREST, sample for sample.

import ImageIO
import TestSupport
import Testing

@Suite struct ResizeTests {
    @Test(arguments: FixtureManifest.loaded.resize)
    func matchesReference(_ entry: FixtureManifest.ResizeEntry) throws {
        let source = try fixtures.image8(entry.source)
        let expected = try fixtures.npy(entry.npy)
        let output: Image8
        switch entry.kind {
        case "linear": output = Resize.bilinear(source, width: entry.width, height: entry.height)
        case "nearest_opencv": output = Resize.nearest(source, width: entry.width, height: entry.height, rule: .opencv)
        case "nearest_pillow": output = Resize.nearest(source, width: entry.width, height: entry.height, rule: .pillow)
        default: Issue.record("unknown kind \(entry.kind)"); return
        }
        let diff = difference(.uint8(output), expected)
        #expect(diff == nil, "\(entry.npy) vs \(entry.reference): \(diff ?? "")")
    }

    @Test func identitySizeReturnsTheImage() throws {
        let source = try fixtures.image8("resize/src_c3.npy")
        #expect(Resize.bilinear(source, width: source.width, height: source.height) == source)
    }

    /// The exact halving (cv2's INTER_AREA shortcut, checked against cv2 above on 12 x 18 sources)
    /// splits its rows over threads: the same bytes at any count, for the rounding of 1–4 channels
    /// (sum + 2) >> 2 and of the others (half to even).
    @Test(arguments: [1, 2, 3, 5])
    func halvingOverThreadsGivesTheSameBytes(channels: Int) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(channels)
        let pixels = (0 ..< 96 * 40 * channels).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let image = Image8(width: 40, height: 96, channels: channels, pixels: pixels)
        let one = Resize.bilinear(image, width: 20, height: 48)
        #expect(one.width == 20 && one.height == 48 && one.channels == channels)
        for threads in [2, 3] {
            #expect(Resize.bilinear(image, width: 20, height: 48, threads: threads) == one, "\(channels) channels, \(threads) threads")
        }
    }

    /// The manifest includes 1-row ramps at sizes where the naive index
    /// formula picks a neighbouring pixel; both rules must be exercised.
    @Test func trickyNearestSizesAreCovered() {
        let ramps = FixtureManifest.loaded.resize.filter { $0.source.contains("ramp") }
        #expect(Set(ramps.map(\.kind)) == ["nearest_opencv", "nearest_pillow"])
    }
}
