// GEMMBench.swift — `ctbench gemm`: ctpipe's AVX-512 SGEMM against OpenBLAS
// (GEMM.sgemm(using:)) on the model's shapes, in one process, alternating.
//
//   ctbench gemm [--threads N] [--runs R] [--json]
//
// Shapes: 2048^3 and the ViT-S/14 shapes at 1025 tokens: qkv (1025 x 1152 x 384),
// fc1 (1025 x 1536 x 384), fc2 (1025 x 384 x 1536), all x W^T; attention's
// QK^T of one (head, 128-query block) item (128 x 1025 x 64, transB, lda = ldb =
// 1152 as in the qkv buffer) and its P·V (128 x 64 x 1025, ldb = 1152). With
// --threads N > 1 the rows are split into N contiguous blocks of whole 16-row
// panels, one single-threaded call per block (as GEMM.linear does). Each round
// times every (shape, kernel) case once; the report gives the best and median
// wall time and the median process CPU time (on a shared machine the CPU time
// is the steadier measure, the best wall time the least disturbed).

import CTCore
import Foundation
import Tensor

enum GEMMBench {
    struct Shape {
        let name: String, transB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int
    }

    static let shapes = [
        Shape(name: "2048^3", transB: true, m: 2048, n: 2048, k: 2048, lda: 2048, ldb: 2048),
        Shape(name: "qkv", transB: true, m: 1025, n: 1152, k: 384, lda: 384, ldb: 384),
        Shape(name: "fc1", transB: true, m: 1025, n: 1536, k: 384, lda: 384, ldb: 384),
        Shape(name: "fc2", transB: true, m: 1025, n: 384, k: 1536, lda: 1536, ldb: 1536),
        Shape(name: "attention QK^T", transB: true, m: 128, n: 1025, k: 64, lda: 1152, ldb: 1152),
        Shape(name: "attention PV", transB: false, m: 128, n: 64, k: 1025, lda: 1025, ldb: 1152),
    ]

    struct Result: Encodable {
        let shape: String, kernel: String, m: Int, n: Int, k: Int
        let bestMilliseconds: Double, medianMilliseconds: Double, medianCPUMilliseconds: Double
        /// GFLOP/s of the best wall time.
        let gflops: Double
    }

    struct Report: Encodable {
        let threads: Int, runs: Int
        let gemmKernel: String, blasKernels: String
        let results: [Result]
    }

    static func run(_ arguments: [String]) throws {
        var threads = 1, runs = 20, json = false
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--threads", "--runs":
                guard i + 1 < arguments.count, let n = Int(arguments[i + 1]), n > 0 else {
                    throw BenchError("\(arguments[i]) needs a positive integer")
                }
                if arguments[i] == "--threads" { threads = n } else { runs = n }
                i += 1
            case "--json": json = true
            default: throw BenchError("unknown option \(arguments[i]) (use --threads N, --runs R, --json)")
            }
            i += 1
        }
        var results: [Result] = []
        for shape in shapes {
            let a = BackboneBench.pseudoRandom(shape.m * shape.lda, seed: 1)
            let b = BackboneBench.pseudoRandom((shape.transB ? shape.n : shape.k) * shape.ldb, seed: 2)
            var c = [Float](repeating: 0, count: shape.m * shape.n)
            let kernels: [GEMMKernel] = [.ctpipeAVX512, .openBLAS]
            let blocks = Threading.chunkRanges((shape.m + 15) / 16, threads: threads)
            let samples = try a.withUnsafeBufferPointer { a in
                try b.withUnsafeBufferPointer { b in
                    try c.withUnsafeMutableBufferPointer { c in
                        let (ap, bp, cp) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                        let cases: [(String, () throws -> Void)] = kernels.map { kernel in
                            (kernel.rawValue, {
                                Threading.parallelFor(blocks.count, threads: threads) { range in
                                    for block in blocks[range] {
                                        let r0 = block.lowerBound * 16, r1 = min(block.upperBound * 16, shape.m)
                                        GEMM.sgemm(using: kernel, transB: shape.transB, m: r1 - r0, n: shape.n, k: shape.k,
                                                   a: ap + r0 * shape.lda, lda: shape.lda, b: bp, ldb: shape.ldb,
                                                   c: cp + r0 * shape.n, ldc: shape.n)
                                    }
                                }
                            })
                        }
                        return try BenchTiming.alternatingSamples(cases, runs: runs)
                    }
                }
            }
            let flops = 2.0 * Double(shape.m * shape.n * shape.k)
            for (index, kernel) in kernels.enumerated() {
                let wall = samples.wall[index].sorted(), cpu = samples.cpu[index].sorted()
                results.append(Result(shape: shape.name, kernel: kernel.rawValue, m: shape.m, n: shape.n, k: shape.k,
                                      bestMilliseconds: wall[0], medianMilliseconds: wall[wall.count / 2],
                                      medianCPUMilliseconds: cpu[cpu.count / 2], gflops: flops / wall[0] / 1e6))
            }
        }
        let report = Report(threads: threads, runs: runs, gemmKernel: GEMM.kernel.rawValue,
                            blasKernels: BuildTarget.blasKernels, results: results)
        if json {
            print(try PrettyJSON.string(report, escapingSlashes: true))
            return
        }
        print("threads \(threads), \(runs) alternating rounds, OpenBLAS \(BuildTarget.blasKernels) kernels"
              + (GEMM.avx512Available ? "" : " (no AVX-512: both rows run OpenBLAS)"))
        for pair in stride(from: 0, to: results.count, by: 2) {
            let ours = results[pair], theirs = results[pair + 1]
            print(String(format: "%-15@ %4dx%4dx%4d  ctpipe %6.1f GFLOP/s (cpu %7.2f ms)  openblas %6.1f GFLOP/s (cpu %7.2f ms)  %.2fx",
                         ours.shape as NSString, ours.m, ours.n, ours.k, ours.gflops, ours.medianCPUMilliseconds,
                         theirs.gflops, theirs.medianCPUMilliseconds, theirs.bestMilliseconds / ours.bestMilliseconds))
        }
    }
}
