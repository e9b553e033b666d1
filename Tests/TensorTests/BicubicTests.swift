// BicubicTests.swift — bicubic resize against torch.nn.functional.interpolate
// (fixtures from scripts/make_backbone_fixtures.py), in the three call styles.

import CTCore
import Foundation
import Tensor
import TestSupport
import Testing

@Suite struct BicubicTests {
    struct Case: CustomStringConvertible, Sendable {
        let grid: String, h: Int, w: Int
        var description: String { "\(grid)_to_\(h)x\(w)" }
    }

    static let cases = [Case(grid: "grid37", h: 24, w: 40), Case(grid: "grid5x7", h: 9, w: 13), Case(grid: "grid5x7", h: 3, w: 4)]

    func source(_ name: String) throws -> (h: Int, w: Int, c: Int, values: [Float]) {
        let (shape, values) = try fixtures.floatArray("interpolate/\(name).npy")
        return (shape[0], shape[1], shape[2], values)
    }

    @Test(arguments: cases)
    func officialOffsetFlavour(_ k: Case) throws {
        let s = try source(k.grid)
        let mode = BicubicMode.scaleFactor(height: (Double(k.h) + 0.1) / Double(s.h), width: (Double(k.w) + 0.1) / Double(s.w))
        let out = s.values.withUnsafeBufferPointer {
            Bicubic.resize($0, height: s.h, width: s.w, channels: s.c, outHeight: k.h, outWidth: k.w, mode: mode)
        }
        expectClose(out, try fixtures.floatArray("interpolate/\(k)_offset.npy").values, "\(k) scale_factor")
    }

    @Test(arguments: cases)
    func antialiasedFlavour(_ k: Case) throws {
        let s = try source(k.grid)
        let out = s.values.withUnsafeBufferPointer {
            Bicubic.resize($0, height: s.h, width: s.w, channels: s.c, outHeight: k.h, outWidth: k.w, mode: .antialiased)
        }
        expectClose(out, try fixtures.floatArray("interpolate/\(k)_antialias.npy").values, "\(k) antialias")
    }

    @Test(arguments: cases)
    func sizeFlavour(_ k: Case) throws {
        let s = try source(k.grid)
        let out = s.values.withUnsafeBufferPointer {
            Bicubic.resize($0, height: s.h, width: s.w, channels: s.c, outHeight: k.h, outWidth: k.w, mode: .size)
        }
        expectClose(out, try fixtures.floatArray("interpolate/\(k)_size.npy").values, "\(k) size")
    }

    @Test func offsetFlavourDiffersFromSize() throws {
        // The +0.1 offset changes the sampling positions: the two must not coincide.
        let a = try fixtures.floatArray("interpolate/grid37_to_24x40_offset.npy").values
        let b = try fixtures.floatArray("interpolate/grid37_to_24x40_size.npy").values
        #expect(Closeness(a, b).worstError > 1e-3)
    }

    @Test func positionGridConversion37To32() throws {
        let s = try source("grid37")
        let out = s.values.withUnsafeBufferPointer {
            Bicubic.resize($0, height: 37, width: 37, channels: s.c, outHeight: 32, outWidth: 32, mode: .size)
        }
        expectClose(out, try fixtures.floatArray("interpolate/grid37_to_32x32_size.npy").values, "pos grid 37 -> 32")
    }

    @Test func patchKernelConversion14To16() throws {
        let (shape, kernel) = try fixtures.floatArray("interpolate/kernel14.npy")
        #expect(shape == [2, 3, 14, 14])
        let out = kernel.withUnsafeBufferPointer {
            Bicubic.resizePlanes($0, planes: 6, height: 14, width: 14, outHeight: 16, outWidth: 16, mode: .size)
        }
        expectClose(out, try fixtures.floatArray("interpolate/kernel14_to_16.npy").values, "kernel 14 -> 16")
    }

    @Test func identityWhenSizesMatch() {
        var rng = SplitMix64(seed: 3)
        let grid = rng.floats(4 * 5 * 2)
        for mode in [BicubicMode.size, .antialiased] {
            let out = grid.withUnsafeBufferPointer {
                Bicubic.resize($0, height: 4, width: 5, channels: 2, outHeight: 4, outWidth: 5, mode: mode)
            }
            expectClose(out, grid, tolerance: 1e-6, "identity \(mode)")
        }
    }
}
