// RandomChoiceResize.swift — mmcv `RandomChoiceResize(scales, resize_type=
// ResizeShortestEdge, max_size=M)`.
//
// One draw: `index = randint(len(scales))`; then ResizeShortestEdge with
// `scales[index]`. The 512 configs use S=512, M=2048 and
// scales = [int(S * x * 0.1) for x in 5...20] = [256, 307, ..., 1024].

import ImageIO

/// Multi-scale training resize: a short edge picked uniformly from a list.
public struct RandomChoiceResize: Sendable, Hashable {
    public var scales: [Int]
    public var maxSize: Int

    public init(scales: [Int], maxSize: Int) {
        self.scales = scales
        self.maxSize = maxSize
    }

    /// The configs' list: `[int(base * x * 0.1) for x in 5...20]`
    /// (Python float product, truncated: 512*7*0.1 = 358.4 -> 358).
    public static func scales(base: Int) -> [Int] {
        (5 ... 20).map { x in Int(Double(base * x) * 0.1) }
    }

    /// The 512 configs: scales for 512, max size 2048.
    public static let config512 = RandomChoiceResize(scales: scales(base: 512), maxSize: 2048)
    /// The 1024 configs: scales for 1024, max size 4096.
    public static let config1024 = RandomChoiceResize(scales: scales(base: 1024), maxSize: 4096)

    /// Draws the short edge (one `randint(len(scales))`).
    public func drawShortEdge<R: RandomSource>(_ random: inout R) -> Int {
        scales[random.integer(0, scales.count)]
    }

    /// Resizes image (bilinear) and label (nearest) together; returns the short edge drawn.
    public func apply<R: RandomSource>(image: Image8, label: LabelMap,
                                       random: inout R) throws(AugmentError) -> (Image8, LabelMap, shortEdge: Int) {
        guard !scales.isEmpty, scales.allSatisfy({ $0 > 0 }), maxSize > 0 else {
            throw AugmentError(stage: "RandomChoiceResize",
                               reason: "scales must be a non-empty list of positive lengths and max size positive (got \(scales), \(maxSize))")
        }
        guard image.width == label.width, image.height == label.height else {
            throw AugmentError(stage: "RandomChoiceResize",
                               reason: "image \(image.width)x\(image.height) and label \(label.width)x\(label.height) differ in size")
        }
        let shortEdge = drawShortEdge(&random)
        let resize = ResizeShortestEdge(shortEdge: shortEdge, maxSize: maxSize)
            .resize(for: ImageSize(width: image.width, height: image.height))
        return (try resize.apply(image: image), try resize.apply(label: label), shortEdge)
    }
}
