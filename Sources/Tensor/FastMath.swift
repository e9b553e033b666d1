// FastMath.swift — vectorised exp and erf, accurate to float precision.
//
// exp: Cephes expf (range reduction by ln 2 split in two parts, degree-5
// polynomial, 2^n by exponent bits), relative error ~1e-7 over the clamped
// range [-87.33, 88.72]; below it returns ~1e-38 instead of 0, which is
// harmless for softmax. erf: the rational approximation of XLA/Eigen
// (x * P(x^2) / Q(x^2) on x clamped to [-4, 4]), absolute error < 5e-7
// against the exact function; this is the exact-erf GELU, not the tanh one.
// The scalar libm functions are the naive twins the tests compare against.

public enum FastMath {
    /// e^x for 16 lanes.
    @inline(__always)
    public static func exp(_ x: Vec) -> Vec {
        var x = vmin(vmax(x, Vec(repeating: -87.33654)), Vec(repeating: 88.72283))
        let magic = Vec(repeating: 12_582_912)                       // 1.5 * 2^23: round to nearest
        let shifted = x * Vec(repeating: 1.442_695_04) + magic
        let n = shifted - magic                                       // round(x / ln 2)
        x = x - n * Vec(repeating: 0.693_359_375) - n * Vec(repeating: -2.121_944_4e-4)
        let z = x * x
        var y = Vec(repeating: 1.987_569_15e-4)
        y = y * x + Vec(repeating: 1.398_199_95e-3)
        y = y * x + Vec(repeating: 8.333_451_9e-3)
        y = y * x + Vec(repeating: 4.166_579_6e-2)
        y = y * x + Vec(repeating: 1.666_666_55e-1)
        y = y * x + Vec(repeating: 5.000_000_1e-1)
        y = y * z + x + Vec(repeating: 1)
        // 2^n: the integer n sits in the low mantissa bits of `shifted`.
        let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((bits &+ 127) &<< 23, to: Vec.self)
        return y * scale
    }

    /// 2^x for 16 lanes, x <= 127 (not checked; softmax feeds x <= 0). Below -126 it
    /// returns 2^-126 instead of a subnormal or 0. Degree-6 Taylor polynomial of
    /// e^(r ln 2) on r in [-1/2, 1/2]: relative error < 2e-7.
    @inline(__always)
    public static func exp2(_ x: Vec) -> Vec {
        let t = vmax(x, Vec(repeating: -126))
        let magic = Vec(repeating: 12_582_912)                       // 1.5 * 2^23: round to nearest
        let shifted = t + magic
        let r = t - (shifted - magic)
        var y = Vec(repeating: 1.540_353_039_338_160_6e-4)
        y = y * r + Vec(repeating: 1.333_355_814_642_844_3e-3)
        y = y * r + Vec(repeating: 9.618_129_107_628_477e-3)
        y = y * r + Vec(repeating: 5.550_410_866_482_158e-2)
        y = y * r + Vec(repeating: 0.240_226_506_959_100_7)
        y = y * r + Vec(repeating: 0.693_147_180_559_945_3)
        y = y * r + Vec(repeating: 1)
        let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        return y * unsafeBitCast((bits &+ 127) &<< 23, to: Vec.self)
    }

    /// erf(x) for 16 lanes.
    @inline(__always)
    public static func erf(_ x: Vec) -> Vec {
        let x = vmin(vmax(x, Vec(repeating: -4)), Vec(repeating: 4))
        let x2 = x * x
        var p = Vec(repeating: -2.726_142_258_013_06e-10)
        p = p * x2 + Vec(repeating: 2.770_681_424_959_02e-08)
        p = p * x2 + Vec(repeating: -2.101_024_020_825_08e-06)
        p = p * x2 + Vec(repeating: -5.692_506_394_623_46e-05)
        p = p * x2 + Vec(repeating: -7.349_906_303_268_55e-04)
        p = p * x2 + Vec(repeating: -2.954_599_808_540_25e-03)
        p = p * x2 + Vec(repeating: -1.609_603_332_624_15e-02)
        var q = Vec(repeating: -1.456_607_184_649_96e-05)
        q = q * x2 + Vec(repeating: -2.133_740_552_789_05e-04)
        q = q * x2 + Vec(repeating: -1.682_826_974_382_03e-03)
        q = q * x2 + Vec(repeating: -7.373_329_167_204_68e-03)
        q = q * x2 + Vec(repeating: -1.426_473_905_141_89e-02)
        return x * p / q
    }

    /// GELU(x) = x/2 (1 + erf(x / sqrt 2)), the exact (erf) form.
    @inline(__always)
    public static func gelu(_ x: Vec) -> Vec {
        let half = x * Vec(repeating: 0.5)
        return half + half * erf(x * Vec(repeating: 0.707_106_781_186_547_5))
    }

    /// Scalar versions for loop tails, through the same lane code.
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(Vec(repeating: x))[0] }
    @inline(__always)
    public static func erf(_ x: Float) -> Float { erf(Vec(repeating: x))[0] }
    @inline(__always)
    public static func gelu(_ x: Float) -> Float { gelu(Vec(repeating: x))[0] }
}
