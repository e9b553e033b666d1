// NormalizeFlipTests.swift — normalisation + padding against numpy float32,
// horizontal flip against numpy, and the flip draw.

import Augment
import CTCore
import ImageIO
import TestSupport
import Testing

@Suite struct NormalizeFlipTests {
    @Test func normalizeAndPadMatchNumpy() throws {
        let fx = try fixtures.augment()
        let input = try fixtures.raster("norm_in.npy")
        let expected = try fixtures.npy("norm_out.npy")
        let size = ImageSize(width: fx.normalizePad[0], height: fx.normalizePad[1])
        let out = try Normalize().apply(image: input, paddedTo: size)
        #expect(expected.shape == [3, size.height, size.width])
        #expect(out == expected.floats!, "bit-exact float32")
    }

    /// Rows split over threads: the same floats at any count (numpy's values checked above on one).
    @Test func normalizeOverThreadsGivesTheSameValues() throws {
        let pixels = (0 ..< 64 * 37 * 3).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let image = Image8(width: 37, height: 64, channels: 3, pixels: pixels)
        let size = ImageSize(width: 40, height: 70)
        let one = try Normalize().apply(image: image, paddedTo: size)
        for threads in [2, 3] {
            #expect(try Normalize().apply(image: image, paddedTo: size, threads: threads) == one, "\(threads) threads")
        }
        #expect(one[0] == (Float(pixels[0]) - ImageNetStatistics.mean[0]) / ImageNetStatistics.std[0])
    }

    @Test func labelPadsWithIgnore() throws {
        let label = LabelMap(width: 2, height: 2, channels: 1, pixels: [1, 2, 3, 4])
        let padded = try Normalize.pad(label: label, to: ImageSize(width: 3, height: 3))
        #expect(padded == [1, 2, 255, 3, 4, 255, 255, 255, 255])
        #expect(throws: AugmentError.self) { try Normalize.pad(label: label, to: ImageSize(width: 1, height: 3)) }
    }

    @Test func flipMatchesNumpy() throws {
        let input = try fixtures.raster("norm_in.npy")
        let expected = try fixtures.raster("flip_out.npy")
        #expect(RandomFlip.mirror(input) == expected)
    }

    @Test func flipDecisionIsOneUniformBelowProbability() {
        let image = Image8(width: 3, height: 1, channels: 3, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let label = LabelMap(width: 3, height: 1, channels: 1, pixels: [0, 1, 2])
        var yes = ScriptedRandom([.real(0.4999)])
        let (i, l, flipped) = RandomFlip().apply(image: image, label: label, random: &yes)
        #expect(flipped && yes.log == ["uniform 0.0..<1.0"])
        #expect(i.pixels == [7, 8, 9, 4, 5, 6, 1, 2, 3] && l.pixels == [2, 1, 0])
        var no = ScriptedRandom([.real(0.5)])
        #expect(RandomFlip().apply(image: image, label: label, random: &no).flipped == false)
    }
}
