// SceneRenderer.swift — renders a street scene in a given style: lighting,
// weather (ACDC fog, night, rain, snow), the camera's colour response, optics
// (blur, vignetting) and sensor noise, then 8-bit quantisation. Also turns the
// fine class plane into each dataset's label encoding.

import CTCore
import Foundation
import ImageIO

/// A rendered image with its fine class plane.
public struct RenderedScene: Sendable {
    public let image: Image8
    /// `SceneClass` raw values, one per pixel.
    public let classes: [UInt8]

    public var width: Int { image.width }
    public var height: Int { image.height }

    /// A label plane with every fine class mapped through `value`.
    public func plane(_ value: (SceneClass) -> UInt8) -> LabelMap {
        let table = (0 ..< 256).map { v in SceneClass(rawValue: UInt8(v)).map(value) ?? 255 }
        return LabelMap(width: width, height: height, channels: 1, pixels: classes.map { table[Int($0)] })
    }

    /// trainIds 0...18, 255.
    public var trainIds: LabelMap { plane { $0.trainId } }
    /// Cityscapes labelIds 0...33.
    public var cityscapesIds: LabelMap { plane { $0.cityscapesId } }
    /// Mapillary v1.2 indices 0...65.
    public var mapillaryIndices: LabelMap { plane { $0.mapillaryIndex } }
}

public enum SceneRenderer {
    /// Renders scene `index` of a run: the scene seed is `SplitMix64.derive(seed, index)`,
    /// so the result depends only on (seed, index, size, style).
    public static func render(seed: UInt64, index: Int, width: Int, height: Int, style: SceneStyle) -> RenderedScene {
        precondition(width >= 8 && height >= 8, "SceneRenderer: size \(width)x\(height) too small")
        let sceneSeed = SplitMix64.derive(seed, UInt64(index))
        var scene = StreetScene(seed: sceneSeed, index: index, width: width, height: height, style: style)
        var canvas = scene.render()
        var rng = SplitMix64(seed: SplitMix64.derive(sceneSeed, 0xF11_4))
        let look = Look(style: style, rng: &rng)
        if look.hood { drawHood(&canvas, rng: &rng) }
        let pixels = develop(canvas, look: look, horizon: scene.horizon, rng: &rng)
        return RenderedScene(image: Image8(width: width, height: height, channels: 3, pixels: pixels), classes: canvas.classes)
    }

    /// The per-style (and per-image, "implicit factor") rendering parameters.
    struct Look {
        var ambient: Float = 1
        var emission: Float = 0.05
        var glow: Float = 0
        var skyNight = false
        var fog: Float = 0.0015
        var airlight = RGB(0.75, 0.8, 0.86)
        var wet: Float = 0
        var snow: Float = 0
        var rainStreaks = 0
        var flakes = 0
        var whiteBalance = RGB(1, 1, 1)
        var saturation: Float = 1
        var contrast: Float = 1
        var exposure: Float = 1
        var blurPasses = 0
        var vignette: Float = 0
        var noise: Float = 0
        var hood = false

        init(style: SceneStyle, rng: inout SplitMix64) {
            switch style {
            case .game:
                saturation = rng.uniform(1.3, 1.5); contrast = rng.uniform(1.1, 1.25)
                whiteBalance = RGB(1.05, 1.0, 0.93); exposure = rng.uniform(1.0, 1.12)
            case .camera:
                saturation = rng.uniform(0.6, 0.75); contrast = 0.9
                whiteBalance = RGB(0.93, 1.02, 0.9); blurPasses = 1; vignette = 0.3; noise = 0.018; hood = true
                exposure = rng.uniform(0.85, 1.0)
            case .dashcam:
                let dusk = rng.chance(0.3)
                ambient = dusk ? rng.uniform(0.35, 0.6) : 1
                emission = dusk ? 0.6 : 0.05
                glow = dusk ? 0.5 : 0
                whiteBalance = rng.pick([RGB(1.0, 0.98, 1.06), RGB(1.08, 1.0, 0.9), RGB(0.96, 1.0, 1.04)])
                saturation = rng.uniform(0.75, 0.95); contrast = rng.uniform(0.95, 1.1)
                blurPasses = rng.int(1 ... 2); vignette = 0.45; noise = 0.025; hood = rng.chance(0.5)
            case .phone:
                saturation = rng.uniform(1.05, 1.25); contrast = rng.uniform(1.05, 1.2)
                whiteBalance = rng.pick([RGB(1.03, 1, 0.97), RGB(0.98, 1, 1.03), RGB(1, 1, 1)])
                noise = 0.01; vignette = 0.1
            case .adverse(let condition):
                saturation = 0.8; vignette = 0.35; noise = 0.02; blurPasses = 1
                switch condition {
                case .fog:
                    fog = rng.uniform(0.035, 0.08); ambient = 0.9; saturation = 0.6
                    airlight = RGB(0.78, 0.79, 0.8) * rng.uniform(0.9, 1.05)
                case .night:
                    ambient = rng.uniform(0.14, 0.26); emission = 1.0; glow = 1.0; skyNight = true
                    noise = 0.05; saturation = 0.9
                case .rain:
                    ambient = rng.uniform(0.5, 0.7); wet = rng.uniform(0.15, 0.3); rainStreaks = 1
                    saturation = 0.6; blurPasses = 2; emission = 0.35; glow = 0.3; fog = 0.008
                    airlight = RGB(0.6, 0.62, 0.65)
                case .snow:
                    snow = rng.uniform(0.55, 0.9); flakes = 1; ambient = rng.uniform(0.8, 0.95)
                    saturation = 0.65; fog = 0.006; airlight = RGB(0.85, 0.87, 0.9)
                }
            }
            // Implicit factors: every image varies a little in brightness, blur and noise.
            exposure *= rng.uniform(0.85, 1.15)
            if style != .game, rng.chance(0.25) { blurPasses += 1 }
            noise += style == .game ? 0 : rng.uniform(0, 0.01)
        }
    }

    /// The camera car's bonnet at the bottom of the frame (`ego vehicle`).
    static func drawHood(_ canvas: inout SceneCanvas, rng: inout SplitMix64) {
        let w = Float(canvas.width), h = Float(canvas.height)
        let rise = h * rng.uniform(0.07, 0.12)
        let paint = rng.pick([RGB(0.1, 0.1, 0.11), RGB(0.5, 0.5, 0.52), RGB(0.75, 0.75, 0.76)])
        canvas.ellipse(w / 2, h + rise * 1.6, w * 0.75, rise * 2.6, .egoVehicle, z: 1) { x, y in
            let t = (y - (h - rise)) / rise
            return paint * (0.7 + 0.5 * max(0, 1 - t)) + RGB(0.1, 0.1, 0.1) * max(0, 1 - abs(x - w / 2) / (w * 0.4)) * 0.3
        }
    }

    static let groundClasses: Set<UInt8> = Set([SceneClass.road, .laneMarking, .crosswalk, .manhole, .sidewalk, .curb,
                                                .terrain, .railTrack].map(\.rawValue))

    /// Lighting, weather, camera response, optics, noise; returns interleaved 8-bit RGB.
    static func develop(_ canvas: SceneCanvas, look: Look, horizon: Float, rng: inout SplitMix64) -> [UInt8] {
        let w = canvas.width, h = canvas.height, n = w * h
        let noiseField = ValueNoise(seed: rng.next())
        var rad = [Float](repeating: 0, count: n * 3)
        let sky = SceneClass.sky.rawValue, vegetation = SceneClass.vegetation.rawValue
        for y in 0 ..< h {
            for x in 0 ..< w {
                let i = y * w + x
                var c = RGB(canvas.albedo[3 * i], canvas.albedo[3 * i + 1], canvas.albedo[3 * i + 2])
                let cls = canvas.classes[i]
                if look.snow > 0 {
                    let m = noiseField.fbm(Float(x) * 0.09, Float(y) * 0.09)
                    if groundClasses.contains(cls) {
                        let track: Float = cls == SceneClass.road.rawValue ? 0.6 : 1
                        c = c.mix(RGB(0.93, 0.94, 0.97), min(1, max(0, (m * 1.6 - 0.1) * look.snow * track)))
                    } else if cls == vegetation {
                        c = c.mix(RGB(0.9, 0.92, 0.95), max(0, m - 0.45) * look.snow * 1.4)
                    }
                }
                if cls == sky {
                    if look.skyNight {
                        c = RGB(0.02, 0.03, 0.06) + RGB(0.05, 0.04, 0.03) * (Float(y) / max(1, horizon))
                    } else if look.snow > 0 || look.wet > 0 {
                        c = RGB(0.78, 0.8, 0.83) * (0.85 + 0.15 * c.luma)
                    }
                    rad[3 * i] = c.r; rad[3 * i + 1] = c.g; rad[3 * i + 2] = c.b
                    continue
                }
                let e = RGB(canvas.emission[3 * i], canvas.emission[3 * i + 1], canvas.emission[3 * i + 2])
                c = c * look.ambient + e * look.emission
                rad[3 * i] = c.r; rad[3 * i + 1] = c.g; rad[3 * i + 2] = c.b
            }
        }
        // Wet ground mirrors what is above it.
        if look.wet > 0 {
            let source = rad
            for y in 0 ..< h {
                let my = Int(2 * horizon) - y
                guard my >= 0, my < h, my != y else { continue }
                for x in 0 ..< w where groundClasses.contains(canvas.classes[y * w + x]) {
                    let i = 3 * (y * w + x), j = 3 * (my * w + x)
                    let streak = 0.6 + 0.8 * noiseField.value(Float(x) * 0.7, Float(y) * 0.05)
                    for k in 0 ..< 3 { rad[i + k] = rad[i + k] * (1 - look.wet) + source[j + k] * look.wet * streak }
                }
            }
        }
        // Light sources glow (night, dusk, rain).
        if look.glow > 0 {
            for light in canvas.lights {
                let r = light.radius * 1.2
                let x0 = max(0, Int(light.x - 3 * r)), x1 = min(w - 1, Int(light.x + 3 * r))
                let y0 = max(0, Int(light.y - 3 * r)), y1 = min(h - 1, Int(light.y + 3 * r))
                guard x0 <= x1, y0 <= y1 else { continue }
                for y in y0 ... y1 {
                    for x in x0 ... x1 {
                        let dx = Float(x) + 0.5 - light.x, dy = Float(y) + 0.5 - light.y
                        let g = look.glow * 0.35 * exp(-(dx * dx + dy * dy) / (2 * r * r))
                        let i = 3 * (y * w + x)
                        rad[i] += light.color.r * g; rad[i + 1] += light.color.g * g; rad[i + 2] += light.color.b * g
                    }
                }
            }
        }
        // Haze / fog by depth (Koschmieder): c * t + airlight * (1 - t).
        let air = look.airlight * (look.skyNight ? 0.08 : min(1, look.ambient + 0.15))
        for i in 0 ..< n {
            let t = exp(-look.fog * min(canvas.depth[i], 2000))
            rad[3 * i] = rad[3 * i] * t + air.r * (1 - t)
            rad[3 * i + 1] = rad[3 * i + 1] * t + air.g * (1 - t)
            rad[3 * i + 2] = rad[3 * i + 2] * t + air.b * (1 - t)
        }
        // Camera response: white balance, exposure, saturation, contrast.
        for i in 0 ..< n {
            var c = RGB(rad[3 * i], rad[3 * i + 1], rad[3 * i + 2]) * look.whiteBalance * look.exposure
            let l = c.luma
            c = RGB(l, l, l).mix(c, look.saturation)
            c = RGB(0.5, 0.5, 0.5).mix(c, look.contrast)
            rad[3 * i] = c.r; rad[3 * i + 1] = c.g; rad[3 * i + 2] = c.b
        }
        for _ in 0 ..< look.blurPasses { blur(&rad, width: w, height: h) }
        if look.rainStreaks > 0 {
            let count = max(8, n / 90)
            let slant = rng.uniform(-0.35, 0.35)
            for _ in 0 ..< count {
                let x = rng.uniform(0, Float(w)), y = rng.uniform(0, Float(h)), length = rng.uniform(3, 10) * Float(h) / 128
                let strength = rng.uniform(0.1, 0.25)
                for s in 0 ..< Int(length) {
                    let px = Int(x + slant * Float(s)), py = Int(y + Float(s))
                    guard px >= 0, px < w, py >= 0, py < h else { continue }
                    let i = 3 * (py * w + px)
                    for k in 0 ..< 3 { rad[i + k] = rad[i + k] * (1 - strength) + 0.8 * strength }
                }
            }
        }
        if look.flakes > 0 {
            let count = max(10, n / 70)
            for _ in 0 ..< count {
                let fx = rng.uniform(0, Float(w)), fy = rng.uniform(0, Float(h)), r = rng.uniform(0.4, 1.6) * Float(h) / 128
                let strength = rng.uniform(0.5, 0.9)
                let x0 = max(0, Int(fx - r - 1)), x1 = min(w - 1, Int(fx + r + 1))
                let y0 = max(0, Int(fy - r - 1)), y1 = min(h - 1, Int(fy + r + 1))
                guard x0 <= x1, y0 <= y1 else { continue }
                for y in y0 ... y1 {
                    for x in x0 ... x1 {
                        let dx = Float(x) + 0.5 - fx, dy = Float(y) + 0.5 - fy
                        let a = strength * max(0, 1 - (dx * dx + dy * dy).squareRoot() / max(r, 0.5))
                        let i = 3 * (y * w + x)
                        for k in 0 ..< 3 { rad[i + k] = rad[i + k] * (1 - a) + 0.97 * a }
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: n * 3)
        let cxw = Float(w) / 2, cyh = Float(h) / 2
        let norm = 1 / (cxw * cxw + cyh * cyh)
        for y in 0 ..< h {
            for x in 0 ..< w {
                let dx = Float(x) + 0.5 - cxw, dy = Float(y) + 0.5 - cyh
                let v = 1 - look.vignette * (dx * dx + dy * dy) * norm
                let grainL = look.noise > 0 ? rng.normal() * look.noise * 0.6 : 0
                let i = 3 * (y * w + x)
                for k in 0 ..< 3 {
                    let chroma = look.noise > 0 ? rng.normal() * look.noise * 0.5 : 0
                    let value = (rad[i + k] * v + grainL + chroma) * 255
                    out[i + k] = UInt8(max(0, min(255, value.rounded())))
                }
            }
        }
        return out
    }

    /// One pass of a separable [1 2 1]/4 blur, edges clamped.
    static func blur(_ data: inout [Float], width w: Int, height h: Int) {
        var tmp = data
        for y in 0 ..< h {
            for x in 0 ..< w {
                let l = max(0, x - 1), r = min(w - 1, x + 1)
                for k in 0 ..< 3 {
                    tmp[3 * (y * w + x) + k] = (data[3 * (y * w + l) + k] + 2 * data[3 * (y * w + x) + k] + data[3 * (y * w + r) + k]) / 4
                }
            }
        }
        for y in 0 ..< h {
            let u = max(0, y - 1), d = min(h - 1, y + 1)
            for x in 0 ..< w {
                for k in 0 ..< 3 {
                    data[3 * (y * w + x) + k] = (tmp[3 * (u * w + x) + k] + 2 * tmp[3 * (y * w + x) + k] + tmp[3 * (d * w + x) + k]) / 4
                }
            }
        }
    }
}
