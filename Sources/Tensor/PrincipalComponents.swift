// PrincipalComponents.swift — the leading principal components of a set of rows,
// for feature visualisation (PCA images of patch features).
//
// Covariance (C x C, double precision, from one sgemm-free pass) and subspace
// iteration with Gram-Schmidt re-orthonormalisation: k vectors at once, until
// the subspace stops moving (or 500 rounds). Signs are fixed so that each
// component's largest-magnitude loading is positive, making the output
// deterministic. k is small (3); C up to 1536.

public enum PrincipalComponents {
    /// Projections of the centred rows on the top-k components: rows x k, row-major.
    public static func project(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, components k: Int) -> [Float] {
        precondition(x.count == rows * cols && k >= 1 && k <= cols, "PrincipalComponents: \(x.count) values, \(rows)x\(cols), k \(k)")
        var mean = [Double](repeating: 0, count: cols)
        for r in 0 ..< rows { for c in 0 ..< cols { mean[c] += Double(x[r * cols + c]) } }
        for c in 0 ..< cols { mean[c] /= Double(max(rows, 1)) }
        var cov = [Double](repeating: 0, count: cols * cols)
        var centred = [Double](repeating: 0, count: cols)
        for r in 0 ..< rows {
            for c in 0 ..< cols { centred[c] = Double(x[r * cols + c]) - mean[c] }
            for i in 0 ..< cols where centred[i] != 0 {
                let v = centred[i]
                for j in i ..< cols { cov[i * cols + j] += v * centred[j] }
            }
        }
        for i in 0 ..< cols { for j in 0 ..< i { cov[i * cols + j] = cov[j * cols + i] } }
        // Subspace iteration from a fixed start.
        var q = [[Double]](repeating: [Double](repeating: 0, count: cols), count: k)
        for a in 0 ..< k { for c in 0 ..< cols { q[a][c] = Double((c * 7 + a * 13) % 17) - 8 + (c == a ? 100 : 0) } }
        orthonormalise(&q)
        for _ in 0 ..< 500 {
            var next = q.map { v in (0 ..< cols).map { i in (0 ..< cols).reduce(0.0) { $0 + cov[i * cols + $1] * v[$1] } } }
            orthonormalise(&next)
            let moved = zip(q, next).map { a, b in 1 - abs(zip(a, b).reduce(0.0) { $0 + $1.0 * $1.1 }) }.max() ?? 0
            q = next
            if moved < 1e-12 { break }
        }
        for a in 0 ..< k {
            if let largest = q[a].max(by: { abs($0) < abs($1) }), largest < 0 { q[a] = q[a].map { -$0 } }
        }
        var out = [Float](repeating: 0, count: rows * k)
        for r in 0 ..< rows {
            for a in 0 ..< k {
                var s = 0.0
                for c in 0 ..< cols { s += (Double(x[r * cols + c]) - mean[c]) * q[a][c] }
                out[r * k + a] = Float(s)
            }
        }
        return out
    }

    static func orthonormalise(_ v: inout [[Double]]) {
        for a in v.indices {
            for b in 0 ..< a {
                let d = zip(v[a], v[b]).reduce(0.0) { $0 + $1.0 * $1.1 }
                for i in v[a].indices { v[a][i] -= d * v[b][i] }
            }
            let n = v[a].reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            if n > 0 { v[a] = v[a].map { $0 / n } }
        }
    }
}
