// ImageSize.swift — a width and a height: image headers, resize rules, metadata.

/// A size in pixels, written `width x height` as in the dataset fact sheet.
public struct ImageSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)" }
}
