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
