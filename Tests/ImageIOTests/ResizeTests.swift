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

    /// The manifest includes 1-row ramps at sizes where the naive index
    /// formula picks a neighbouring pixel; both rules must be exercised.
    @Test func trickyNearestSizesAreCovered() {
        let ramps = FixtureManifest.loaded.resize.filter { $0.source.contains("ramp") }
        #expect(Set(ramps.map(\.kind)) == ["nearest_opencv", "nearest_pillow"])
    }
}
