// Resize.swift — the resamplers the reference pipelines use.
//
// Images: bilinear with half-pixel centres, no anti-aliasing (OpenCV
// INTER_LINEAR, used by MMSegmentation's Resize). Label maps: nearest, in the
// two conventions that occur (OpenCV INTER_NEAREST, Pillow NEAREST); labels are
// never interpolated.

/// Nearest-neighbour conventions for label maps.
public enum NearestRule: Sendable {
    /// OpenCV INTER_NEAREST: src = min(floor(dst * src/dst), src - 1).
    case opencv
    /// Pillow NEAREST: src = floor((dst + 0.5) * src/dst).
    case pillow
}

public enum Resize {
    /// Nearest-neighbour resize of any raster (label maps).
    public static func nearest<S>(_ image: Raster<S>, width: Int, height: Int, rule: NearestRule = .opencv) -> Raster<S> {
        precondition(width > 0 && height > 0, "Resize.nearest: target \(width)x\(height) is empty")
        let xs = nearestIndices(source: image.width, target: width, rule: rule)
        let ys = nearestIndices(source: image.height, target: height, rule: rule)
        let c = image.channels
        var out = [S](repeating: 0, count: width * height * c)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< height {
                    let srow = ys[y] * image.width * c
                    let drow = y * width * c
                    for x in 0 ..< width {
                        let s = srow + xs[x] * c, d = drow + x * c
                        for k in 0 ..< c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        return Raster(width: width, height: height, channels: c, pixels: out)
    }

    static func nearestIndices(source: Int, target: Int, rule: NearestRule) -> [Int] {
        let scale = Double(source) / Double(target)
        return (0 ..< target).map { d in
            switch rule {
            case .opencv: return min(Int((Double(d) * scale).rounded(.down)), source - 1)
            case .pillow: return min(Int(((Double(d) + 0.5) * scale).rounded(.down)), source - 1)
            }
        }
    }
}
