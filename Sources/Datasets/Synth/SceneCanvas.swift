// SceneCanvas.swift — the render target of the scene generator: linear RGB
// albedo, emitted light, fine class and depth per pixel, and the filled shapes
// (convex polygons, ellipses, rings) everything is drawn with. A pixel belongs to
// a shape when its centre is inside, in the image and the label alike.

/// A linear RGB colour.
struct RGB: Sendable {
    var r: Float, g: Float, b: Float
    init(_ r: Float, _ g: Float, _ b: Float) {
        self.r = r
        self.g = g
        self.b = b
    }
    init(_ c: (UInt8, UInt8, UInt8)) { self.init(Float(c.0) / 255, Float(c.1) / 255, Float(c.2) / 255) }
    static func * (a: RGB, s: Float) -> RGB { RGB(a.r * s, a.g * s, a.b * s) }
    static func * (a: RGB, b: RGB) -> RGB { RGB(a.r * b.r, a.g * b.g, a.b * b.b) }
    static func + (a: RGB, b: RGB) -> RGB { RGB(a.r + b.r, a.g + b.g, a.b + b.b) }
    func mix(_ other: RGB, _ t: Float) -> RGB { RGB(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t) }
    var luma: Float { 0.299 * r + 0.587 * g + 0.114 * b }
}

/// A point light that glows at night (lamps, car lights, signals).
struct SceneLight: Sendable {
    var x: Float, y: Float, radius: Float
    var color: RGB
}

struct SceneCanvas {
    let width: Int
    let height: Int
    var albedo: [Float]
    var emission: [Float]
    var classes: [UInt8]
    var depth: [Float]
    var lights: [SceneLight] = []

    static let farDepth: Float = 10_000

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        albedo = [Float](repeating: 0, count: width * height * 3)
        emission = [Float](repeating: 0, count: width * height * 3)
        classes = [UInt8](repeating: SceneClass.unlabeled.rawValue, count: width * height)
        depth = [Float](repeating: Self.farDepth, count: width * height)
    }

    @inline(__always) mutating func put(_ x: Int, _ y: Int, _ cls: SceneClass, _ color: RGB, _ z: Float) {
        let i = y * width + x
        classes[i] = cls.rawValue
        depth[i] = z
        albedo[3 * i] = color.r
        albedo[3 * i + 1] = color.g
        albedo[3 * i + 2] = color.b
        emission[3 * i] = 0
        emission[3 * i + 1] = 0
        emission[3 * i + 2] = 0
    }

    @inline(__always) mutating func emit(_ x: Int, _ y: Int, _ light: RGB) {
        let i = 3 * (y * width + x)
        emission[i] += light.r
        emission[i + 1] += light.g
        emission[i + 2] += light.b
    }

    @inline(__always) func albedoAt(_ x: Int, _ y: Int) -> RGB {
        let i = 3 * (y * width + x)
        return RGB(albedo[i], albedo[i + 1], albedo[i + 2])
    }

    /// Fills a convex polygon (screen coordinates). `shade` gets the pixel centre
    /// and returns the colour, or nil to leave the pixel (holes).
    mutating func polygon(_ points: [(Float, Float)], _ cls: SceneClass, z: Float,
                          emit light: RGB? = nil, _ shade: (Float, Float) -> RGB?) {
        guard points.count >= 3 else { return }
        var minY = Float.infinity, maxY = -Float.infinity
        for p in points {
            minY = min(minY, p.1)
            maxY = max(maxY, p.1)
        }
        let y0 = max(0, Int((minY - 0.5).rounded(.up))), y1 = min(height - 1, Int((maxY - 0.5).rounded(.down)))
        guard y0 <= y1 else { return }
        for y in y0 ... y1 {
            let cy = Float(y) + 0.5
            var lo = Float.infinity, hi = -Float.infinity
            for k in 0 ..< points.count {
                let a = points[k], b = points[(k + 1) % points.count]
                if (a.1 <= cy && b.1 > cy) || (b.1 <= cy && a.1 > cy) {
                    let x = a.0 + (cy - a.1) / (b.1 - a.1) * (b.0 - a.0)
                    lo = min(lo, x)
                    hi = max(hi, x)
                }
            }
            guard lo <= hi else { continue }
            let x0 = max(0, Int((lo - 0.5).rounded(.up))), x1 = min(width - 1, Int((hi - 0.5).rounded(.down)))
            guard x0 <= x1 else { continue }
            for x in x0 ... x1 {
                if let c = shade(Float(x) + 0.5, cy) {
                    put(x, y, cls, c, z)
                    if let light { emit(x, y, light) }
                }
            }
        }
    }

    /// Axis-aligned rectangle between two corners.
    mutating func rect(_ x0: Float, _ y0: Float, _ x1: Float, _ y1: Float, _ cls: SceneClass, z: Float,
                       emit light: RGB? = nil, _ shade: (Float, Float) -> RGB?) {
        polygon([(min(x0, x1), min(y0, y1)), (max(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1)),
                 (min(x0, x1), max(y0, y1))], cls, z: z, emit: light, shade)
    }

    /// Filled ellipse; with `inner` > 0 a ring (the hole keeps what is behind).
    mutating func ellipse(_ cx: Float, _ cy: Float, _ rx: Float, _ ry: Float, inner: Float = 0, _ cls: SceneClass, z: Float,
                          emit light: RGB? = nil, _ shade: (Float, Float) -> RGB?) {
        guard rx > 0, ry > 0 else { return }
        let y0 = max(0, Int((cy - ry - 0.5).rounded(.up))), y1 = min(height - 1, Int((cy + ry - 0.5).rounded(.down)))
        let x0 = max(0, Int((cx - rx - 0.5).rounded(.up))), x1 = min(width - 1, Int((cx + rx - 0.5).rounded(.down)))
        guard y0 <= y1, x0 <= x1 else { return }
        for y in y0 ... y1 {
            for x in x0 ... x1 {
                let dx = (Float(x) + 0.5 - cx) / rx, dy = (Float(y) + 0.5 - cy) / ry
                let d = dx * dx + dy * dy
                guard d <= 1, d >= inner * inner else { continue }
                if let c = shade(Float(x) + 0.5, Float(y) + 0.5) {
                    put(x, y, cls, c, z)
                    if let light { emit(x, y, light) }
                }
            }
        }
    }

    /// A thick line segment (as a quad).
    mutating func line(_ a: (Float, Float), _ b: (Float, Float), width w: Float, _ cls: SceneClass, z: Float,
                       _ shade: (Float, Float) -> RGB?) {
        let dx = b.0 - a.0, dy = b.1 - a.1
        let len = max((dx * dx + dy * dy).squareRoot(), 1e-4)
        let nx = -dy / len * max(w, 0.75) / 2, ny = dx / len * max(w, 0.75) / 2
        polygon([(a.0 + nx, a.1 + ny), (b.0 + nx, b.1 + ny), (b.0 - nx, b.1 - ny), (a.0 - nx, a.1 - ny)], cls, z: z, shade)
    }
}

/// An upright flat object facing the camera at depth `z`: local metres (x to the
/// right of the anchor, y up from the ground) to screen pixels.
struct Billboard {
    let x0: Float
    let y0: Float
    let scale: Float
    let z: Float

    @inline(__always) func p(_ lx: Float, _ ly: Float) -> (Float, Float) { (x0 + lx * scale, y0 - ly * scale) }
    /// Local coordinates of a screen point.
    @inline(__always) func local(_ sx: Float, _ sy: Float) -> (Float, Float) { ((sx - x0) / scale, (y0 - sy) / scale) }
}
