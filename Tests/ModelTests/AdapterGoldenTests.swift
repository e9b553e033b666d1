// AdapterGoldenTests.swift — the DCT, the frequency masks, the adapter, the
// linear head and whole-model forwards against scipy / PyTorch.
//
// Fixtures (scripts/make_adapter_fixtures.py): scipy.fft.dctn/idctn(norm="ortho")
// on token-major grids; the masks of method.md §2.2 in numpy; a PyTorch
// implementation of the adapter (both kinds, full and low-rank tokens) and of a
// tiny DINOv2 (C = 16, 4 blocks, 2 registers) with an adapter after every block
// and the linear head, saved as ctpipe checkpoints written by Python.

import CTCore
import Dispatch
import Synchronization
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct AdapterGoldenTests {
    static let grids: [(Int, Int, Int)] = [(5, 7, 6), (16, 16, 8), (1, 6, 3), (4, 1, 2)]

    /// (rows x cols) -> (cols x rows), the naive way.
    static func transposed(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for r in 0 ..< rows { for c in 0 ..< cols { y[c * rows + r] = x[r * cols + c] } }
        return y
    }

    /// The DCT of token-major (N, C) data through the channel-major transform.
    static func dct(_ x: [Float], h: Int, w: Int, c: Int, inverse: Bool, threads: Int) -> [Float] {
        let dct = DCT2(height: h, width: w, channels: c, threads: threads)
        var planes = transposed(x, rows: h * w, cols: c), out = [Float](repeating: 0, count: x.count)
        planes.withUnsafeMutableBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                if inverse { dct.inverse(destroying: p.baseAddress!, into: o.baseAddress!) } else { dct.forward(p.baseAddress!, into: o.baseAddress!) }
            }
        }
        return transposed(out, rows: c, cols: h * w)
    }

    @Test func dctForwardAndInverseMatchScipy() throws {
        for threads in [1, 2] {
            for (h, w, c) in Self.grids {
                let name = "adapter/dct_\(h)x\(w)x\(c)"
                let x = try fixtures.floatArray(name + "_x.npy").values, y = try fixtures.floatArray(name + "_y.npy").values
                expectClose(Self.dct(x, h: h, w: w, c: c, inverse: false, threads: threads), try fixtures.floatArray(name + "_forward.npy").values,
                            "DCT \(h)x\(w)x\(c), \(threads) threads")
                expectClose(Self.dct(y, h: h, w: w, c: c, inverse: true, threads: threads), try fixtures.floatArray(name + "_inverse.npy").values,
                            "iDCT \(h)x\(w)x\(c), \(threads) threads")
            }
        }
    }

    /// The token-major DCT the adapter runs (two matrix products on the stream, through either pass
    /// kernel) against the same scipy fixtures, with the rows' weights applied on the frequency side,
    /// the inverse also with input weights and adding α · DCT2⁻¹ into existing values, at several
    /// thread counts.
    @Test(arguments: [MatrixDCT2.PassKernel.smallLeft, .sgemm])
    func matrixDCTMatchesScipy(kernel: MatrixDCT2.PassKernel) throws {
        var rng = SplitMix64(seed: 5)
        for threads in [1, 2, 3] {
            for (h, w, c) in Self.grids {
                let name = "adapter/dct_\(h)x\(w)x\(c)"
                let x = try fixtures.floatArray(name + "_x.npy").values, y = try fixtures.floatArray(name + "_y.npy").values
                let forward = try fixtures.floatArray(name + "_forward.npy").values
                let inverse = try fixtures.floatArray(name + "_inverse.npy").values
                let dct = MatrixDCT2(height: h, width: w, channels: c, threads: threads, kernel: kernel)
                let weights = (0 ..< h * w).map { Float(1 + $0 % 3) / 2 }
                var out = [Float](repeating: 0, count: x.count), scratch = out, frequencies = y
                x.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { o in
                        scratch.withUnsafeMutableBufferPointer { dct.forward(x.baseAddress!, into: o.baseAddress!, weights: weights, scratch: $0.baseAddress!) }
                    }
                }
                let weighted = forward.indices.map { forward[$0] * weights[$0 / c] }
                expectClose(out, weighted, "matrix DCT \(h)x\(w)x\(c), \(threads) threads, \(kernel)")
                frequencies.withUnsafeMutableBufferPointer { f in
                    out.withUnsafeMutableBufferPointer { o in
                        scratch.withUnsafeMutableBufferPointer { dct.inverse(destroying: f.baseAddress!, into: o.baseAddress!, weights: nil, scratch: $0.baseAddress!) }
                    }
                }
                expectClose(out, inverse, "matrix iDCT \(h)x\(w)x\(c), \(threads) threads, \(kernel)")
                // x0 + α · DCT2⁻¹(weights ⊙ (y / weights)) = x0 + α · DCT2⁻¹(y).
                let start = rng.floats(x.count), alpha: Float = -0.75
                var sum = start
                frequencies = y.indices.map { y[$0] / weights[$0 / c] }
                frequencies.withUnsafeMutableBufferPointer { f in
                    sum.withUnsafeMutableBufferPointer { o in
                        scratch.withUnsafeMutableBufferPointer {
                            dct.inverse(destroying: f.baseAddress!, into: o.baseAddress!, weights: weights, scratch: $0.baseAddress!, accumulate: alpha)
                        }
                    }
                }
                expectClose(sum, start.indices.map { start[$0] + alpha * inverse[$0] }, "x0 + α iDCT \(h)x\(w)x\(c), \(threads) threads, \(kernel)")
            }
        }
    }

    /// At the real grid (32 x 32) and many channels the matrix DCT equals FFTW's DCT2 (checked against
    /// scipy above) on the same data, forward and inverse, at 1 and 2 threads, through both pass
    /// kernels; ct_small_left's results are the same bits at 1, 2 and 3 threads.
    @Test(arguments: [MatrixDCT2.PassKernel.smallLeft, .sgemm])
    func matrixDCTMatchesFFTWAtTheRealGrid(kernel: MatrixDCT2.PassKernel) {
        var rng = SplitMix64(seed: 11)
        let (h, w, c) = (32, 32, 96)
        let x = rng.floats(h * w * c)
        var first: [[Float]] = []
        for threads in [1, 2, 3] {
            let reference = Self.dct(x, h: h, w: w, c: c, inverse: false, threads: threads)
            let inverseReference = Self.dct(x, h: h, w: w, c: c, inverse: true, threads: threads)
            let dct = MatrixDCT2(height: h, width: w, channels: c, threads: threads, kernel: kernel)
            var out = [Float](repeating: .nan, count: x.count), scratch = out, y = x
            x.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { dct.forward(x.baseAddress!, into: o.baseAddress!, weights: nil, scratch: $0.baseAddress!) }
                }
            }
            #expect(out.allSatisfy { $0.isFinite })
            expectClose(out, reference, "matrix DCT 32x32x96, \(threads) threads, \(kernel)")
            let forward = out
            scratch = [Float](repeating: .nan, count: x.count)
            y.withUnsafeMutableBufferPointer { y in
                out.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { dct.inverse(destroying: y.baseAddress!, into: o.baseAddress!, weights: nil, scratch: $0.baseAddress!) }
                }
            }
            #expect(out.allSatisfy { $0.isFinite })
            expectClose(out, inverseReference, "matrix iDCT 32x32x96, \(threads) threads, \(kernel)")
            guard dct.kernel == .smallLeft else { continue }
            if first.isEmpty { first = [forward, out] } else { #expect(first == [forward, out], "\(threads) threads: other bits than 1 thread") }
        }
    }

    @Test func dctPlansAreSharedAcrossConcurrentCallers() throws {
        // Plans made and executed from many threads at once give the sequential result.
        let x = try fixtures.floatArray("adapter/dct_16x16x8_x.npy").values
        let expected = try fixtures.floatArray("adapter/dct_16x16x8_forward.npy").values
        let results = Mutex<[[Float]]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let out = Self.dct(x, h: 16, w: 16, c: 8, inverse: false, threads: 2)
            results.withLock { $0.append(out) }
        }
        for r in results.withLock({ $0 }) { expectClose(r, expected, "concurrent DCT") }
    }

    @Test func blockedTransposes() {
        var rng = SplitMix64(seed: 4)
        for (rows, cols) in [(1, 1), (33, 70), (64, 32), (5, 100)] {
            let x = rng.floats(rows * cols), y0 = rng.floats(rows * cols)
            var y = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { Transpose.apply(x.baseAddress!, rows: rows, cols: cols, into: $0.baseAddress!, threads: 2) } }
            #expect(y == Self.transposed(x, rows: rows, cols: cols))
            var z = y0
            let t = Self.transposed(x, rows: rows, cols: cols)   // (cols x rows): add its transpose back onto (rows x cols)
            t.withUnsafeBufferPointer { t in z.withUnsafeMutableBufferPointer { Transpose.addScaled(t.baseAddress!, rows: rows, cols: cols, alpha: 0.5, into: $0.baseAddress!, threads: 2) } }
            #expect(z == zip(y0, x).map { $0 + 0.5 * $1 })
        }
    }

    struct MaskCase: Decodable { let file: String, filter: String, dl: Double, dh: Double, height: Int, width: Int }

    @Test func masksMatchTheFormulas() throws {
        let cases = try JSONDecoder().decode([MaskCase].self, from: Data(contentsOf: fixtures.url("adapter/masks.json")))
        #expect(cases.count == 8)
        for m in cases {
            let filter = try #require(FrequencyFilter(rawValue: m.filter))
            let values = FrequencyMask.values(filter, dl: m.dl, dh: m.dh, height: m.height, width: m.width)
            expectClose(values, try fixtures.floatArray("adapter/" + m.file).values, tolerance: 1e-6, "mask \(m.filter) \(m.height)x\(m.width)")
        }
    }

    static let variants = ["ct_full", "ct_lowrank", "rein_full", "rein_lowrank"]

    static func load(_ name: String) throws -> SegmentationModel {
        try SegmentationCheckpoint.load(fixtures.url("adapter/\(name).safetensors").path)
    }

    /// Every arena kind: inference with the fused token attention (where the kernel runs) and with
    /// the GEMMs (Z formed over F in place, the inverse adding into the stream), for training (S, Z
    /// and Tr⁻¹(Δ) kept), and retained for a backward pass.
    @Test(arguments: variants)
    func adapterAloneOnANonSquareGrid(_ name: String) throws {
        let model = try Self.load(name)
        let adapter = try #require(model.adapter)
        let prepared = try #require(model.prepared)
        #expect(adapter.config.kind == (name.hasPrefix("ct") ? .causalTune : .rein))
        #expect((adapter.config.rank > 0) == name.hasSuffix("lowrank"))
        let input = try fixtures.floatArray("adapter/\(name)_adapter_in.npy").values
        func arena(_ k: Int) -> AdapterActivations {
            switch k {
            case 0: adapter.makeActivations(gridHeight: 5, gridWidth: 7, fusedTokenAttention: true, threads: 2)
            case 1: adapter.makeActivations(gridHeight: 5, gridWidth: 7, fusedTokenAttention: false, threads: 2)
            case 2: adapter.makeActivations(gridHeight: 5, gridWidth: 7, forTraining: true, threads: 2)
            default: adapter.makeActivations(gridHeight: 5, gridWidth: 7, retainForBackward: true, threads: 3)
            }
        }
        for k in 0 ..< 4 {
            let arena = arena(k)
            #expect(arena.inferenceOnly == (k < 2) && (arena.tokenAttentionScratch == nil) == (k > 0 || !FusedAttention.enabled))
            var f = input
            f.withUnsafeMutableBufferPointer { adapter.forward(layer: 1, patches: $0.baseAddress!, prepared: prepared, arena) }
            expectClose(f, try fixtures.floatArray("adapter/\(name)_adapter_out.npy").values, "\(name) adapter output, arena \(k)")
            let delta = zip(f, input).map { ($0 - $1) / adapter.scale }
            expectClose(delta, try fixtures.floatArray("adapter/\(name)_adapter_delta.npy").values, "\(name) adapter delta, arena \(k)")
        }
    }

    @Test(arguments: variants + ["none"])
    func wholeModelForward(_ name: String) throws {
        let model = try Self.load(name)
        #expect(model.config.backbone.registers == 2)
        #expect(model.config.head.blocks == [0, 1, 3, 3])
        let image = try fixtures.floatArray("adapter/model_input.npy").values
        for retain in [false, true] {
            let arena = try model.makeActivations(height: 28, width: 28, retainForBackward: retain, threads: 2)
            try image.withUnsafeBufferPointer { try model.forward($0, arena) }
            expectClose(Array(arena.logits), try fixtures.floatArray("adapter/\(name)_logits.npy").values, "\(name) logits (retain \(retain))")
        }
    }
}
