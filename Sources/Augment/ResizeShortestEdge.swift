// ResizeShortestEdge.swift — mmseg `ResizeShortestEdge(scale=s, max_size=M)`.
//
//   scale = s / min(h, w)
//   (nh, nw) = h < w ? (s, scale*w) : (scale*h, s)
//   if max(nh, nw) > M: nh, nw *= M / max(nh, nw)
//   target = (int(nw + 0.5), int(nh + 0.5))
// followed by mmcv keep-ratio `Resize(scale=target)` (see KeepRatioResize),
// whose factor can differ slightly from s / min(h, w) after the rounding.

import ImageIO

/// Resize so the short side is `shortEdge`, the long side at most `maxSize`.
public struct ResizeShortestEdge: Sendable, Hashable {
    public var shortEdge: Int, maxSize: Int

    public init(shortEdge: Int, maxSize: Int) {
        self.shortEdge = shortEdge
        self.maxSize = maxSize
    }

    /// The scale box handed to the keep-ratio resize (mmseg `_get_output_shape`).
    public func targetScale(for size: ImageSize) -> ImageSize {
        let h = Double(size.height), w = Double(size.width)
        let s = Double(shortEdge)
        let scale = s / min(h, w)
        var (nh, nw) = h < w ? (s, scale * w) : (scale * h, s)
        if max(nh, nw) > Double(maxSize) {
            let shrink = Double(maxSize) * 1.0 / max(nh, nw)
            nh *= shrink
            nw *= shrink
        }
        return ImageSize(width: Int(nw + 0.5), height: Int(nh + 0.5))
    }

    /// The final image size for an input of `size`.
    public func outputSize(for size: ImageSize) -> ImageSize {
        KeepRatioResize.rescaledSize(size, scale: targetScale(for: size))
    }

    /// The keep-ratio resize this transform performs on an input of `size`.
    public func resize(for size: ImageSize) -> KeepRatioResize {
        KeepRatioResize(scale: targetScale(for: size))
    }
}
