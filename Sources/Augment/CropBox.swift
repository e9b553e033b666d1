// CropBox.swift — a rectangle inside an image: rows y0..<y1, columns x0..<x1.

/// A crop rectangle (half-open), already clipped to the image.
public struct CropBox: Sendable, Hashable, Codable, CustomStringConvertible {
    public var y0: Int, y1: Int
    public var x0: Int, x1: Int

    public init(y0: Int, y1: Int, x0: Int, x1: Int) {
        self.y0 = y0
        self.y1 = y1
        self.x0 = x0
        self.x1 = x1
    }

    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
    public var description: String { "[\(y0):\(y1), \(x0):\(x1)]" }
}
