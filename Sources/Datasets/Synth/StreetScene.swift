// StreetScene.swift — one procedural street scene: a pinhole camera over a flat
// street (road with lanes and markings, curbs, sidewalks, verges), façades and
// walls/fences/hedges along both sides, a distant skyline, then vehicles,
// people, poles, lights and signs drawn far to near. Ground and façades are
// textured in world coordinates, so patterns shrink with distance like a photo.

import CTCore
import Foundation

/// The visual domain of a synthetic image.
public enum SceneStyle: Sendable, Equatable, Hashable {
    /// GTA5-like rendering: clean, saturated, sharp, sunny.
    case game
    /// Cityscapes-like automotive camera: muted, greenish response, soft, noisy, ego hood.
    case camera
    /// BDD100K-like dash camera: varying time of day and white balance, strong vignetting.
    case dashcam
    /// Mapillary-like phones and action cameras: punchy colours, varying sizes.
    case phone
    /// ACDC adverse condition on a GoPro-like camera.
    case adverse(ACDCCondition)
}

struct StreetScene {
    var rng: SplitMix64
    var canvas: SceneCanvas
    let noise: ValueNoise
    /// The look of the scene and its index in the dataset.
    let style: SceneStyle, index: Int
    /// Texture noise strength (game style is cleaner).
    let detail: Float

    // Camera.
    let f: Float, cx: Float, horizon: Float, camH: Float
    // Street cross-section (metres, X to the right of the camera).
    let laneWidth: Float, lanes: Int, roadCenter: Float, roadHalf: Float
    let sidewalkLeft: Float, sidewalkRight: Float   // outer edges (absolute X)
    let backLeft: Float, backRight: Float           // façade planes
    let vergeLeft: Bool, vergeRight: Bool           // grass between sidewalk and façade
    let crosswalkZ: Float?
    let manholes: [(Float, Float)]
    let roadTone: RGB, sidewalkTone: RGB, curbTone: RGB, terrainTone: RGB, markingTone: RGB
    let tiledSidewalk: Bool
    let sunSide: Float
    let zEnd: Float, zFar: Float

    var laneCenters: [Float] { (0 ..< lanes).map { roadCenter - roadHalf + laneWidth * (Float($0) + 0.5) } }

    init(seed: UInt64, index: Int, width: Int, height: Int, style: SceneStyle) {
        var r = SplitMix64(seed: seed)
        self.index = index
        self.style = style
        canvas = SceneCanvas(width: width, height: height)
        noise = ValueNoise(seed: r.next())
        detail = style == .game ? 0.45 : 1
        f = Float(max(width, height)) * r.uniform(0.55, 0.7)
        cx = Float(width) * r.uniform(0.45, 0.55)
        horizon = Float(height) * (width >= height ? r.uniform(0.36, 0.48) : r.uniform(0.42, 0.52))
        camH = style == .game ? r.uniform(1.3, 1.9) : r.uniform(1.3, 1.6)
        laneWidth = r.uniform(3.0, 3.6)
        lanes = r.int(2 ... 4)
        roadHalf = laneWidth * Float(lanes) / 2
        // The camera drives in one of the right-hand lanes.
        let ownLane = r.int(lanes / 2 ... lanes - 1)
        roadCenter = -(-roadHalf + laneWidth * (Float(ownLane) + 0.5)) + r.uniform(-0.4, 0.4)
        sidewalkLeft = roadCenter - roadHalf - 0.25 - r.uniform(1.8, 4.5)
        sidewalkRight = roadCenter + roadHalf + 0.25 + r.uniform(1.8, 4.5)
        vergeLeft = r.chance(0.35)
        vergeRight = r.chance(0.35)
        backLeft = sidewalkLeft - (vergeLeft ? r.uniform(1.5, 5) : 0.05)
        backRight = sidewalkRight + (vergeRight ? r.uniform(1.5, 5) : 0.05)
        crosswalkZ = r.chance(0.35) ? r.uniform(9, 25) : nil
        var holes: [(Float, Float)] = []
        for _ in 0 ..< r.int(0 ... 2) { holes.append((r.uniform(-1, 1) * laneWidth * Float(lanes) * 0.3, r.uniform(5, 30))) }
        manholes = holes
        let asphalt = r.uniform(0.16, 0.3)
        roadTone = RGB(asphalt, asphalt * r.uniform(0.97, 1.03), asphalt * r.uniform(1.0, 1.08))
        let paving = r.pick([RGB(0.55, 0.53, 0.5), RGB(0.62, 0.45, 0.4), RGB(0.5, 0.5, 0.52), RGB(0.6, 0.58, 0.52)])
        sidewalkTone = paving * r.uniform(0.85, 1.1)
        curbTone = RGB(0.62, 0.62, 0.6) * r.uniform(0.85, 1.05)
        terrainTone = r.pick([RGB(0.32, 0.45, 0.18), RGB(0.45, 0.48, 0.25), RGB(0.42, 0.38, 0.26)])
        markingTone = r.chance(0.15) ? RGB(0.85, 0.75, 0.3) : RGB(0.88, 0.88, 0.86)
        tiledSidewalk = r.chance(0.6)
        sunSide = r.chance(0.5) ? 1 : -1
        zEnd = r.uniform(70, 140)
        zFar = r.uniform(160, 320)
        rng = r
    }

    // MARK: projection

    func billboard(x: Float, z: Float) -> Billboard {
        Billboard(x0: cx + f * x / z, y0: horizon + f * camH / z, scale: f / z, z: z)
    }

    @inline(__always) func grain(_ a: Float, _ b: Float, _ amount: Float) -> Float {
        1 + detail * amount * (noise.value(a, b) - 0.5)
    }

    // MARK: scene

    mutating func render() -> SceneCanvas {
        drawSky()
        drawGround()
        drawSkyline()
        drawSides()
        var objects = placeObjects()
        objects.sort { $0.z > $1.z }
        for object in objects { draw(object) }
        return canvas
    }

    mutating func drawSky() {
        let w = canvas.width, h = canvas.height
        let zenith = RGB(0.22, 0.42, 0.78) * rng.uniform(0.8, 1.1), low = RGB(0.72, 0.8, 0.9) * rng.uniform(0.9, 1.05)
        let cloudiness = rng.uniform(0, 0.9)
        let hz = max(horizon, 1)
        for y in 0 ..< min(h, Int(horizon.rounded(.up)) + 1) {
            let t = min(1, max(0, (Float(y) + 0.5) / hz))
            for x in 0 ..< w {
                var c = zenith.mix(low, t * t)
                let n = noise.fbm(Float(x) / Float(w) * 6 + 100, Float(y) / hz * 3)
                let cloud = max(0, min(1, (n - 0.55 + cloudiness * 0.3) * 3 * cloudiness))
                c = c.mix(RGB(0.92, 0.92, 0.94), cloud)
                canvas.put(x, y, .sky, c, SceneCanvas.farDepth)
            }
        }
    }

    /// What the flat ground is at lateral position X and distance z.
    func ground(_ X: Float, _ z: Float) -> (SceneClass, RGB) {
        let d = X - roadCenter
        let ad = abs(d)
        if ad < roadHalf {
            var c = roadTone * grain(X * 3, z * 3, 0.25) * grain(X * 0.4 + 50, z * 0.15, 0.25)
            // Lane markings: solid edge lines, dashed lane separators.
            let edge = roadHalf - 0.3
            if abs(ad - edge) < 0.08 { return (.laneMarking, markingTone * grain(z, X, 0.2)) }
            for k in 1 ..< lanes {
                let lx = -roadHalf + laneWidth * Float(k)
                if abs(d - lx) < 0.08 {
                    let solid = lanes >= 2 && k == lanes / 2 && lanes % 2 == 0
                    if solid || (z.truncatingRemainder(dividingBy: 9) < 3.5) {
                        return (.laneMarking, markingTone * grain(z, X, 0.2))
                    }
                }
            }
            if let cz = crosswalkZ, z > cz, z < cz + 3.5, (d + 10).truncatingRemainder(dividingBy: 1.0) < 0.5 {
                return (.crosswalk, RGB(0.9, 0.9, 0.88) * grain(X * 4, z * 4, 0.15))
            }
            for m in manholes {
                let mx = roadCenter + m.0
                if (X - mx) * (X - mx) + (z - m.1) * (z - m.1) < 0.16 {
                    return (.manhole, RGB(0.12, 0.12, 0.13) * grain(X * 20, z * 20, 0.4))
                }
            }
            // Tyre tracks: slightly darker bands.
            if abs(d.truncatingRemainder(dividingBy: laneWidth)) < 0.5 { c = c * 0.93 }
            return (.road, c)
        }
        if ad < roadHalf + 0.25 { return (.curb, curbTone * grain(z * 4, X * 4, 0.2)) }
        let leftSide = d < 0
        if (leftSide ? X >= sidewalkLeft : X <= sidewalkRight) || !(leftSide ? vergeLeft : vergeRight) {
            var c = sidewalkTone * grain(X * 6, z * 6, 0.3)
            if tiledSidewalk {
                let u = (X * 2).truncatingRemainder(dividingBy: 1), v = (z * 2).truncatingRemainder(dividingBy: 1)
                if abs(u) < 0.06 || abs(v) < 0.06 { c = c * 0.78 }
            }
            return (.sidewalk, c)
        }
        let g = noise.fbm(X * 1.5, z * 1.5)
        return (.terrain, terrainTone * (0.7 + 0.6 * detail * g) * grain(X * 9, z * 9, 0.5))
    }

    mutating func drawGround() {
        let w = canvas.width, h = canvas.height
        let start = max(0, Int(horizon.rounded(.down)))
        guard start < h else { return }
        for y in start ..< h {
            let dy = Float(y) + 0.5 - horizon
            guard dy > 0.05 else { continue }
            let z = min(f * camH / dy, 5000)
            for x in 0 ..< w {
                let X = (Float(x) + 0.5 - cx) * z / f
                let (cls, c) = ground(X, z)
                canvas.put(x, y, cls, c, z)
            }
        }
    }

    /// Distant buildings and tree lines closing the street.
    mutating func drawSkyline() {
        let w = canvas.width
        var x = 0
        let bottom = horizon + f * camH / zFar
        while x < w {
            let blockWidth = rng.int(max(2, w / 40) ... max(3, w / 8))
            let isTree = rng.chance(0.35)
            let height = isTree ? rng.uniform(8, 18) : rng.uniform(10, 45)
            let tone = isTree ? RGB(0.25, 0.35, 0.2) : RGB(0.5, 0.5, 0.52) * rng.uniform(0.7, 1.2)
            for xx in x ..< min(w, x + blockWidth) {
                let jitter = isTree ? (noise.fbm(Float(xx) * 0.3, 7) - 0.5) * 8 : 0
                let top = horizon - f * (height + jitter - camH) / zFar
                let y0 = max(0, Int((top - 0.5).rounded(.up))), y1 = min(canvas.height - 1, Int((bottom - 0.5).rounded(.down)))
                guard y0 <= y1 else { continue }
                for y in y0 ... y1 {
                    let c = tone * grain(Float(xx) * 0.7, Float(y) * 0.7, 0.3)
                    canvas.put(xx, y, isTree ? .vegetation : .building, c, zFar)
                }
            }
            x += blockWidth
        }
    }

    enum BackKind {
        case building(height: Float, color: RGB, floor: Float, bay: Float, window: Float, glass: RGB)
        case trees(height: Float)
        case open
    }

    enum FrontKind {
        case none
        case wall(height: Float, color: RGB)
        case fence(height: Float, color: RGB, metal: Bool)
        case hedge(height: Float)
    }

    struct Segment {
        var z0: Float, z1: Float
        var back: BackKind
        var front: FrontKind
    }

    mutating func segments() -> [Segment] {
        var out: [Segment] = []
        var z: Float = 1
        while z < zEnd {
            let length = rng.uniform(8, 30)
            let back: BackKind
            switch rng.unit() {
            case ..<0.62:
                let palette = [RGB(0.75, 0.68, 0.55), RGB(0.55, 0.3, 0.22), RGB(0.62, 0.62, 0.62), RGB(0.85, 0.83, 0.78),
                               RGB(0.45, 0.43, 0.4), RGB(0.7, 0.55, 0.4), RGB(0.5, 0.55, 0.6)]
                let glass = RGB(0.12, 0.16, 0.22).mix(RGB(0.4, 0.5, 0.6), rng.uniform(0, 0.6))
                back = .building(height: rng.uniform(7, 28), color: rng.pick(palette) * rng.uniform(0.85, 1.1),
                                 floor: rng.uniform(2.8, 3.6), bay: rng.uniform(2.0, 3.5), window: rng.uniform(0.35, 0.6),
                                 glass: glass)
            case ..<0.88: back = .trees(height: rng.uniform(4, 12))
            default: back = .open
            }
            let front: FrontKind
            switch rng.unit() {
            case ..<0.55: front = .none
            case ..<0.72: front = .wall(height: rng.uniform(1.0, 2.8),
                                        color: rng.pick([RGB(0.6, 0.58, 0.55), RGB(0.7, 0.68, 0.62), RGB(0.5, 0.45, 0.42)]))
            case ..<0.88: front = .fence(height: rng.uniform(0.9, 2.0),
                                         color: rng.pick([RGB(0.45, 0.32, 0.2), RGB(0.55, 0.57, 0.6), RGB(0.2, 0.35, 0.25)]),
                                         metal: rng.chance(0.5))
            default: front = .hedge(height: rng.uniform(0.8, 1.7))
            }
            out.append(Segment(z0: z, z1: z + length, back: back, front: front))
            z += length
        }
        // Learnability: every image shows some wall and some fence.
        if !out.contains(where: { if case .wall = $0.front { true } else { false } }), out.count > 1 {
            out[out.count / 2].front = .wall(height: rng.uniform(1.2, 2.5), color: RGB(0.62, 0.6, 0.56))
        }
        if !out.contains(where: { if case .fence = $0.front { true } else { false } }), !out.isEmpty {
            out[0].front = .fence(height: rng.uniform(1.0, 1.8), color: RGB(0.5, 0.52, 0.55), metal: true)
        }
        return out
    }

    mutating func drawSides() {
        for side: Float in [-1, 1] {
            let segs = segments()
            let back = side < 0 ? backLeft : backRight
            let front = side < 0 ? sidewalkLeft - 0.02 : sidewalkRight + 0.02
            let light: Float = side == sunSide ? 1.0 : 0.72
            drawPlane(X: back, side: side, light: light, segments: segs, front: false)
            drawPlane(X: front, side: side, light: light, segments: segs, front: true)
        }
    }

    /// Fills the vertical plane X = const (one side of the street) column by column.
    mutating func drawPlane(X: Float, side: Float, light: Float, segments segs: [Segment], front: Bool) {
        let w = canvas.width, h = canvas.height
        for x in 0 ..< w {
            let dx = Float(x) + 0.5 - cx
            guard dx * side > 0.05 else { continue }
            let z = f * X / dx
            guard z > 0.3, z < zEnd, let seg = segs.first(where: { z >= $0.z0 && z < $0.z1 }) else { continue }
            let top: Float
            let cls: SceneClass
            switch front ? nil : seg.back {
            case .building(let height, _, _, _, _, _)?: top = height; cls = .building
            case .trees(let height)?: top = height + (noise.fbm(z * 0.35, side * 40) - 0.5) * 6; cls = .vegetation
            case .open?: continue
            case nil:
                switch seg.front {
                case .none: continue
                case .wall(let height, _): top = height; cls = .wall
                case .fence(let height, _, _): top = height; cls = .fence
                case .hedge(let height): top = height + (noise.value(z * 2, 3) - 0.5) * 0.3; cls = .vegetation
                }
            }
            let yTop = horizon - f * (top - camH) / z, yBottom = horizon + f * camH / z
            let y0 = max(0, Int((yTop - 0.5).rounded(.up))), y1 = min(h - 1, Int((yBottom - 0.5).rounded(.down)))
            guard y0 <= y1 else { continue }
            for y in y0 ... y1 {
                let v = camH + (horizon - (Float(y) + 0.5)) * z / f   // height above ground
                let u = z - seg.z0                                     // distance along the street
                var c: RGB
                var glow: RGB?
                switch cls {
                case .building:
                    guard case .building(let height, let color, let floor, let bay, let window, let glass) = seg.back else { continue }
                    c = color * grain(u * 1.3, v * 1.3, 0.3) * grain(u * 8, v * 8, 0.15)
                    let fv = v.truncatingRemainder(dividingBy: floor), fu = u.truncatingRemainder(dividingBy: bay)
                    let cell = noise.hash(Int(u / bay) + Int(seg.z0 * 10), Int(v / floor) + Int(side * 7))
                    if v > floor * 0.95, v < height - 0.7, fv > 0.8, fv < 0.8 + floor * 0.5, fu > 0.4, fu < 0.4 + bay * window {
                        c = glass * (0.8 + 0.4 * cell) + RGB(0.15, 0.18, 0.22) * max(0, (fv - 0.8) / floor)
                        if cell > 0.62 { glow = RGB(1.0, 0.8, 0.45) * 0.6 }
                    } else if v < floor * 0.9, fu > 0.3, fu < bay - 0.3, v > 0.2 {
                        c = c * 0.55   // ground-floor shop fronts
                    }
                    if v > height - 0.5 { c = c * 0.7 }
                case .vegetation:
                    let leaf = noise.value(u * 4 + side * 13, v * 4)
                    c = RGB(0.18, 0.32, 0.1) * (0.55 + 0.9 * leaf * detail + 0.45 * (1 - detail)) * grain(u * 12, v * 12, 0.4)
                    if !front, v < 2.2, (u + side * 3).truncatingRemainder(dividingBy: 6) < 0.5 { c = RGB(0.3, 0.22, 0.15) }
                case .wall:
                    guard case .wall(_, let color) = seg.front else { continue }
                    c = color * grain(u * 3, v * 3, 0.25)
                    if v.truncatingRemainder(dividingBy: 0.6) < 0.05 || u.truncatingRemainder(dividingBy: 2.5) < 0.04 { c = c * 0.8 }
                case .fence:
                    guard case .fence(let height, let color, let metal) = seg.front else { continue }
                    let behind = canvas.albedoAt(x, y)
                    let post = u.truncatingRemainder(dividingBy: 2.0) < 0.12
                    let slat = metal ? (abs((u * 8).truncatingRemainder(dividingBy: 1) - (v * 8).truncatingRemainder(dividingBy: 1)) < 0.25)
                        : (u * 6).truncatingRemainder(dividingBy: 1) < 0.6
                    let rail = abs(v - 0.3) < 0.06 || v > height - 0.08
                    c = post || rail ? color : (slat ? color * 0.9 : behind.mix(color, 0.35))
                default: continue
                }
                canvas.put(x, y, cls, c * light, z)
                if let glow { canvas.emit(x, y, glow) }
            }
        }
    }
}
