// SlidingWindow.swift — where the windows of slide inference go
// (datasets.md §8, MMSegmentation `slide_inference`):
//
//   rows = max(H - crop + stride - 1, 0) / stride + 1   (cols likewise)
//   y1 = r·stride, y2 = min(y1 + crop, H), y1 = max(y2 - crop, 0)
//
// so the last window is shifted back inside the image. A side shorter than the
// crop gets one window spanning it; the model input is then padded to the crop
// (method.md §5: pad value 0 after normalisation, bottom/right, padded logits dropped).

/// One window: rows y0..<y1, columns x0..<x1 of the image.
public struct Window: Sendable, Equatable, CustomStringConvertible {
    public let y0: Int, y1: Int, x0: Int, x1: Int
    public init(y0: Int, y1: Int, x0: Int, x1: Int) {
        self.y0 = y0; self.y1 = y1; self.x0 = x0; self.x1 = x1
    }
    public var height: Int { y1 - y0 }
    public var width: Int { x1 - x0 }
    public var description: String { "rows [\(y0),\(y1)) cols [\(x0),\(x1))" }
}

/// Crop and stride of slide inference (square, as the 512 / 341 and 1024 / 683 configurations).
public struct SlidingWindow: Sendable, Equatable, Codable {
    public var crop: Int
    public var stride: Int

    public init(crop: Int = 512, stride: Int = 341) {
        self.crop = crop
        self.stride = stride
    }

    /// Start offsets along one axis of length `size`.
    public func starts(_ size: Int) -> [(Int, Int)] {
        let count = max(size - crop + stride - 1, 0) / stride + 1
        return (0 ..< count).map { i in
            let end = min(i * stride + crop, size)
            return (max(end - crop, 0), end)
        }
    }

    /// The windows of an image of height x width, row by row.
    public func windows(height: Int, width: Int) -> [Window] {
        let ys = starts(height), xs = starts(width)
        return ys.flatMap { y in xs.map { x in Window(y0: y.0, y1: y.1, x0: x.0, x1: x.1) } }
    }
}
