// PositionEmbedding.swift — the learned position embedding at any patch grid.
//
// The stored embedding is (1, 1 + G·G, C): CLS position, then a G x G grid.
// For a grid h x w other than G x G the grid part is resized bicubically in one
// of the three flavours of method.md §1.2 (see `PositionInterpolation`); the
// CLS position is never resized. Done once per input shape (the activation
// arena keeps the result).

import Tensor

public enum PositionEmbedding {
    /// (1 + h·w) x C: CLS position, then the grid resized to h x w (row-major).
    public static func resized(_ posEmbed: Tensor, gridSize g: Int, to h: Int, _ w: Int,
                               interpolation: PositionInterpolation) -> [Float] {
        let c = posEmbed.shape.last!
        precondition(posEmbed.count == (1 + g * g) * c, "PositionEmbedding: \(posEmbed.shapeDescription) is not (1, 1+\(g)², C)")
        if h == g && w == g { return posEmbed.storage }
        let mode: BicubicMode = switch interpolation {
        case .offset: .scaleFactor(height: (Double(h) + 0.1) / Double(g), width: (Double(w) + 0.1) / Double(g))
        case .antialiased: .antialiased
        case .size: .size
        }
        let resized = posEmbed.withUnsafeBufferPointer { all in
            Bicubic.resize(UnsafeBufferPointer(rebasing: all[c...]), height: g, width: g, channels: c,
                           outHeight: h, outWidth: w, mode: mode)
        }
        return Array(posEmbed.storage[0 ..< c]) + resized
    }
}
