// NaiveKernels.swift — the textbook definitions the fast kernels are checked against.
//
// Double precision, plain loops, libm functions: slow and obviously right.

import Foundation

enum Naive {
    /// C = alpha op(A) op(B) + beta C, row-major with leading dimensions.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
                     b: [Float], ldb: Int, beta: Float, c: inout [Float], ldc: Int) {
        for i in 0 ..< m {
            for j in 0 ..< n {
                var sum = 0.0
                for p in 0 ..< k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                c[i * ldc + j] = Float(Double(alpha) * sum + Double(beta) * Double(c[i * ldc + j]))
            }
        }
    }

    static func layerNorm(_ x: [Float], rows: Int, cols: Int, weight: [Float], bias: [Float], eps: Float) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for r in 0 ..< rows {
            let row = x[(r * cols) ..< ((r + 1) * cols)].map(Double.init)
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            for c in 0 ..< cols {
                y[r * cols + c] = Float((row[c] - mean) / (variance + Double(eps)).squareRoot() * Double(weight[c]) + Double(bias[c]))
            }
        }
        return y
    }

    static func softmax(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for r in 0 ..< rows {
            let row = x[(r * cols) ..< ((r + 1) * cols)].map(Double.init)
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for c in 0 ..< cols { y[r * cols + c] = Float(e[c] / s) }
        }
        return y
    }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot())) }
    static func silu(_ x: Double) -> Double { x / (1 + Foundation.exp(-x)) }
}
