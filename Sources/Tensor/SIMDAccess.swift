// SIMDAccess.swift — unaligned vector loads and stores for the kernels.
//
// Kernels work on `Vec` = SIMD16<Float> (one AVX-512 register, four SSE
// registers): wide enough to hide latency in reductions, narrow enough for
// rows of 32 floats (the smallest width ctpipe's tests use).

/// The vector type of the elementwise kernels.
public typealias Vec = SIMD16<Float>

@inline(__always) @usableFromInline
func loadVec(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) @usableFromInline
func storeVec(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

// Swift's `pointwiseMin/Max` and `clamped` follow IEEE minNum/maxNum for NaN and
// compile to a scalar loop; a compare-and-select vectorises. (NaN inputs: the
// comparisons are false, so a NaN lane passes through unchanged.)
@inline(__always) @usableFromInline
func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .> a) }

@inline(__always) @usableFromInline
func vmin(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .< a) }
