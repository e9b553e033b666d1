// HalfPrecision.swift — IEEE float16 and bfloat16 to float32, exactly.
//
// Released checkpoints are float32, but fine-tuned and converted ones are often
// stored in half precision; ctpipe computes in float32 and upcasts on load
// (every half value is exactly representable, so the upcast is lossless).

enum HalfPrecision {
    /// float16 bits -> Float (normals, subnormals, infinities, NaN).
    @inline(__always)
    static func float(fromHalf h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            // Subnormal (or zero): mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// bfloat16 bits -> Float (the top half of a float32).
    @inline(__always)
    static func float(fromBFloat b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }
}

/// Element types found in weight files.
public enum StoredDType: String, Sendable, Equatable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64"

    public var byteSize: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .float64: 8
        }
    }

    /// Decodes `count` little-endian elements starting at `bytes` into float32.
    func decode(_ bytes: UnsafeRawPointer, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialised in
            switch self {
            case .float32:
                memcpyFloats(out.baseAddress!, bytes, count)
            case .float16:
                for i in 0 ..< count {
                    out[i] = HalfPrecision.float(fromHalf: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bfloat16:
                for i in 0 ..< count {
                    out[i] = HalfPrecision.float(fromBFloat: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .float64:
                for i in 0 ..< count {
                    out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            }
            initialised = count
        }
    }
}

@inline(__always)
private func memcpyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeRawPointer, _ count: Int) {
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
}
