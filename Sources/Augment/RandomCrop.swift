// RandomCrop.swift — mmseg `RandomCrop(crop_size, cat_max_ratio, ignore_index)`.
//
// Candidate: margin_h = max(H - ch, 0), margin_w = max(W - cw, 0);
// y1 = randint(0, margin_h + 1), then x1 = randint(0, margin_w + 1);
// box = [y1, y1+ch) x [x1, x1+cw) clipped to the image (a side shorter than
// the crop is kept whole).
// Rule when cat_max_ratio < 1: draw c0; up to 10 times, count the label values
// inside the candidate, drop the ignore value, and accept when at least two
// values remain and max/sum < cat_max_ratio (float64 division); otherwise draw
// the next candidate. After 10 failed checks the 11th candidate is used
// unchecked. With cat_max_ratio >= 1 the first candidate is used.

import ImageIO

/// Random crop of image and label with the same box.
public struct RandomCrop: Sendable, Hashable {
    public var cropSize: ImageSize
    public var catMaxRatio: Double
    public var ignoreIndex: UInt8

    public init(cropSize: ImageSize, catMaxRatio: Double = 0.75, ignoreIndex: UInt8 = 255) {
        self.cropSize = cropSize
        self.catMaxRatio = catMaxRatio
        self.ignoreIndex = ignoreIndex
    }

    /// One candidate box for an image of `size` (draws y1, then x1).
    public func drawCandidate<R: RandomSource>(for size: ImageSize, _ random: inout R) -> CropBox {
        let marginH = max(size.height - cropSize.height, 0)
        let marginW = max(size.width - cropSize.width, 0)
        let y1 = random.integer(0, marginH + 1)
        let x1 = random.integer(0, marginW + 1)
        return CropBox(y0: y1, y1: min(y1 + cropSize.height, size.height),
                       x0: x1, x1: min(x1 + cropSize.width, size.width))
    }

    /// Whether a candidate passes the category-ratio check on `label`.
    public func accepts(_ box: CropBox, label: LabelMap) -> Bool {
        var histogram = [Int](repeating: 0, count: 256)
        label.pixels.withUnsafeBufferPointer { src in
            histogram.withUnsafeMutableBufferPointer { h in
                for y in box.y0 ..< box.y1 {
                    let row = y * label.width
                    for x in box.x0 ..< box.x1 { h[Int(src[row + x])] += 1 }
                }
            }
        }
        histogram[Int(ignoreIndex)] = 0
        var classes = 0, total = 0, largest = 0
        for count in histogram where count > 0 {
            classes += 1
            total += count
            largest = max(largest, count)
        }
        return classes > 1 && Double(largest) / Double(total) < catMaxRatio
    }

    /// Chooses the crop box for `label` (the image has the same size).
    public func chooseBox<R: RandomSource>(label: LabelMap, _ random: inout R) -> CropBox {
        let size = ImageSize(width: label.width, height: label.height)
        var box = drawCandidate(for: size, &random)
        if catMaxRatio < 1 {
            for _ in 0 ..< 10 {
                if accepts(box, label: label) { break }
                box = drawCandidate(for: size, &random)
            }
        }
        return box
    }

    /// Crops image and label with one box; returns the box too.
    public func apply<R: RandomSource>(image: Image8, label: LabelMap,
                                       random: inout R) throws(AugmentError) -> (Image8, LabelMap, box: CropBox) {
        guard cropSize.width > 0, cropSize.height > 0 else {
            throw AugmentError(stage: "RandomCrop", reason: "crop size \(cropSize) must be positive")
        }
        guard image.width == label.width, image.height == label.height, label.channels == 1 else {
            throw AugmentError(stage: "RandomCrop",
                               reason: "image \(image.width)x\(image.height) and \(label.channels)-channel label \(label.width)x\(label.height) do not match")
        }
        guard image.width > 0, image.height > 0 else {
            throw AugmentError(stage: "RandomCrop", reason: "input is empty")
        }
        let box = chooseBox(label: label, &random)
        return (Self.crop(image, box), Self.crop(label, box), box)
    }

    /// Copies the pixels inside `box`.
    public static func crop<S>(_ raster: Raster<S>, _ box: CropBox) -> Raster<S> {
        if box.x0 == 0, box.y0 == 0, box.width == raster.width, box.height == raster.height { return raster }
        let c = raster.channels, rowLength = box.width * c
        var out = [S](repeating: 0, count: box.height * rowLength)
        raster.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< box.height {
                    let s = ((box.y0 + y) * raster.width + box.x0) * c
                    for i in 0 ..< rowLength { dst[y * rowLength + i] = src[s + i] }
                }
            }
        }
        return Raster(width: box.width, height: box.height, channels: c, pixels: out)
    }
}
