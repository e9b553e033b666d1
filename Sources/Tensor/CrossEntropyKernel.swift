// CrossEntropyKernel.swift — the pixel loop of the training cross-entropy
// (Training.CrossEntropyLoss), 16 pixels at a time.
//
// Logits are planar (K, P): class c of pixel i at c·P + i, so the 16 pixels'
// values of one class are one contiguous vector load. Per block: m = max over
// the classes, e_c = exp(z_c - m) (FastMath.exp), s = Σ_c e_c in class order;
// a labelled pixel adds log-sum-exp - z_label = m + log s - z_label to the
// loss (in double precision, pixel by pixel in index order) and gets the
// gradient (e_c / s - [c = label]) · scale; an ignored pixel gets 0.

public enum CrossEntropyKernel {
    /// Pixels `range` of logits (K, P): (summed loss over labelled pixels, their count); the
    /// gradient (K, P) of those pixels written when given. Labels must be < K or `ignore`.
    public static func evaluate(logits: UnsafePointer<Float>, classes k: Int, pixels: Int, labels: UnsafePointer<UInt8>,
                                ignore: UInt8, range: Range<Int>, scale: Float,
                                gradient: UnsafeMutablePointer<Float>?) -> (loss: Double, count: Int) {
        let lanes = Vec.scalarCount
        var total = 0.0, n = 0
        let e = UnsafeMutablePointer<Vec>.allocate(capacity: max(k, 1))
        defer { e.deallocate() }
        var i = range.lowerBound
        while i < range.upperBound {
            let count = min(lanes, range.upperBound - i)
            var m = Vec(repeating: -.infinity)
            for c in 0 ..< k {
                let z = load(logits + c * pixels + i, count)
                e[c] = z
                m = vmax(m, z)
            }
            var sum = Vec()
            for c in 0 ..< k {
                let v = FastMath.exp(e[c] - m)
                e[c] = v
                sum += v
            }
            var labelled = SIMDMask<SIMD16<Int32>>(repeating: false)
            var labelV = SIMD16<Int32>(repeating: -1)
            for lane in 0 ..< count {
                let label = labels[i + lane]
                if label == ignore { continue }
                labelled[lane] = true
                labelV[lane] = Int32(label)
                let lse = m[lane] + Float(log(Double(sum[lane])))
                total += Double(lse - logits[Int(label) * pixels + i + lane])
                n += 1
            }
            if let gradient {
                let inverse = 1 / sum, scaleV = Vec(repeating: scale), zero = Vec()
                for c in 0 ..< k {
                    var g = e[c] * inverse
                    g = g.replacing(with: g - 1, where: labelV .== Int32(c))
                    g = (g * scaleV).replacing(with: zero, where: .!labelled)
                    store(g, gradient + c * pixels + i, count)
                }
            }
            i += count
        }
        return (total, n)
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ count: Int) -> Vec {
        if count == Vec.scalarCount { return loadVec(p) }
        var v = Vec()
        for lane in 0 ..< count { v[lane] = p[lane] }
        return v
    }

    @inline(__always)
    private static func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == Vec.scalarCount { storeVec(v, p); return }
        for lane in 0 ..< count { p[lane] = v[lane] }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
