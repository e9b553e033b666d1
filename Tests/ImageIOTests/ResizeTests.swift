// ResizeTests.swift — Resize.bilinear against cv2.resize INTER_LINEAR and
// Resize.nearest against cv2 INTER_NEAREST / Pillow NEAREST, sample for sample.

import ImageIO
import Testing

@Suite struct ResizeTests {
    @Test(arguments: Fixtures.manifest.resize)
    func matchesReference(_ entry: FixtureManifest.ResizeEntry) throws {
        let source = try Fixtures.image8(entry.source)
        let expected = try Fixtures.npy(entry.npy)
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
        let source = try Fixtures.image8("resize/src_c3.npy")
        #expect(Resize.bilinear(source, width: source.width, height: source.height) == source)
    }

    /// OpenCV's nearest index rule differs from the naive floor(d * src/dst) in
    /// the last ulp; these sizes are ones where the two disagree.
    @Test func nearestIndicesFollowOpenCVsFloatingPointOrder() {
        // 1/(49/3) * 49 rounds to 2.9999999999999996 while 49 * (3/49) is 3.0.
        let row = Image8(width: 3, height: 1, channels: 1, pixels: [10, 20, 30])
        let resized = Resize.nearest(row, width: 49, height: 1, rule: .opencv)
        #expect(resized.pixels.count == 49)
    }
}
