// KeepRatioResize.swift — mmcv `Resize(scale=(W, H), keep_ratio=True)`.
//
// The image is scaled by one factor so that its long side fits max(W, H) and
// its short side fits min(W, H) (mmcv `rescale_size`):
//   f = min(max(W,H) / max(w,h), min(W,H) / min(w,h))
//   size = (int(w*f + 0.5), int(h*f + 0.5))        (Python int() truncates)
// Images are resampled bilinearly (OpenCV INTER_LINEAR), label maps with
// OpenCV INTER_NEAREST. Used alone at test time (image only) and inside
// `RandomChoiceResize` during training.

import ImageIO

/// Keep-ratio resize to fit a scale box.
public struct KeepRatioResize: Sendable, Hashable {
    /// The box, e.g. 1024x512 for Cityscapes/Mapillary at test time.
    public var scale: ImageSize

    public init(scale: ImageSize) { self.scale = scale }

    /// mmcv `rescale_size((w, h), (W, H))`: the output size for an input size.
    public static func rescaledSize(_ size: ImageSize, scale: ImageSize) -> ImageSize {
        let w = Double(size.width), h = Double(size.height)
        let longEdge = Double(max(scale.width, scale.height))
        let shortEdge = Double(min(scale.width, scale.height))
        let f = min(longEdge / max(h, w), shortEdge / min(h, w))
        return ImageSize(width: Int(w * f + 0.5), height: Int(h * f + 0.5))
    }

    /// The output size for an input of `size`.
    public func outputSize(for size: ImageSize) -> ImageSize {
        Self.rescaledSize(size, scale: scale)
    }

    /// Resizes an image bilinearly to `outputSize` (an exact halving over `threads`).
    public func apply(image: Image8, threads: Int = 1) throws(AugmentError) -> Image8 {
        try Self.resize(image: image, to: try checkedSize(image.width, image.height), threads: threads)
    }

    /// Resizes a label map (nearest, OpenCV convention) to `outputSize`.
    public func apply(label: LabelMap) throws(AugmentError) -> LabelMap {
        let size = try checkedSize(label.width, label.height)
        if label.width == size.width && label.height == size.height { return label }
        return Resize.nearest(label, width: size.width, height: size.height, rule: .opencv)
    }

    func checkedSize(_ width: Int, _ height: Int) throws(AugmentError) -> ImageSize {
        guard width > 0, height > 0 else {
            throw AugmentError(stage: "Resize", reason: "input is empty (\(width)x\(height))")
        }
        guard scale.width > 0, scale.height > 0 else {
            throw AugmentError(stage: "Resize", reason: "scale \(scale) must be positive")
        }
        let out = outputSize(for: ImageSize(width: width, height: height))
        guard out.width > 0, out.height > 0 else {
            throw AugmentError(stage: "Resize",
                               reason: "\(width)x\(height) to fit \(scale) gives an empty image (\(out))")
        }
        return out
    }

    /// Bilinear image resize (no-op when the size is unchanged, as OpenCV).
    static func resize(image: Image8, to size: ImageSize, threads: Int = 1) throws(AugmentError) -> Image8 {
        if image.width == size.width && image.height == size.height { return image }
        return Resize.bilinear(image, width: size.width, height: size.height, threads: threads)
    }
}
