// StreetObjects.swift — the things in a street scene: vehicles, people, riders,
// poles with lamps, traffic lights and signs, bins. Each is drawn as a flat
// upright figure at its distance (`Billboard`), in local metres, from simple
// shapes with their own colours and shading, so a small model can tell them apart.

/// One placed object.
struct SceneObject {
    enum View { case rear, front, side(Float) }
    enum PoleKind { case plain, lamp(Float), signal, sign(Int) }
    enum Kind {
        case car(RGB, View)
        case truck(RGB, View)
        case bus(RGB, View)
        case train(RGB)
        case person(shirt: RGB, trousers: RGB, skin: RGB, phase: Float)
        case bicycle(View, rider: Bool, shirt: RGB, frame: RGB)
        case motorcycle(View, rider: Bool, shirt: RGB, body: RGB)
        case pole(PoleKind, height: Float)
        case trashCan
    }
    var X: Float
    var z: Float
    var kind: Kind
}

/// Colour with a little screen-space grain.
private func tex(_ c: RGB, _ n: ValueNoise, _ amount: Float, _ freq: Float = 0.9) -> (Float, Float) -> RGB? {
    { x, y in c * (1 + amount * (n.value(x * freq, y * freq) - 0.5)) }
}

/// Colour shaded darker towards the bottom of a billboard shape (ambient occlusion-ish).
private func shaded(_ c: RGB, _ b: Billboard, top: Float, _ n: ValueNoise, _ amount: Float) -> (Float, Float) -> RGB? {
    { x, y in
        let ly = (b.y0 - y) / b.scale
        return c * (0.7 + 0.35 * min(1, max(0, ly / top))) * (1 + amount * (n.value(x * 0.8, y * 0.8) - 0.5))
    }
}

extension StreetScene {
    // MARK: placement

    mutating func placeObjects() -> [SceneObject] {
        var out: [SceneObject] = []
        let paints = [RGB(0.85, 0.85, 0.85), RGB(0.6, 0.62, 0.65), RGB(0.08, 0.08, 0.09), RGB(0.12, 0.18, 0.4),
                      RGB(0.6, 0.08, 0.07), RGB(0.35, 0.36, 0.38), RGB(0.12, 0.28, 0.18), RGB(0.7, 0.62, 0.45),
                      RGB(0.2, 0.35, 0.6)]
        let clothes = [RGB(0.08, 0.08, 0.1), RGB(0.7, 0.1, 0.1), RGB(0.15, 0.25, 0.55), RGB(0.85, 0.85, 0.82),
                       RGB(0.3, 0.45, 0.25), RGB(0.55, 0.45, 0.3), RGB(0.9, 0.6, 0.1), RGB(0.45, 0.2, 0.45)]
        let trousers = [RGB(0.1, 0.12, 0.22), RGB(0.08, 0.08, 0.08), RGB(0.35, 0.35, 0.38), RGB(0.6, 0.52, 0.38)]
        let skins = [RGB(0.95, 0.76, 0.62), RGB(0.78, 0.57, 0.42), RGB(0.5, 0.34, 0.24), RGB(0.9, 0.7, 0.55)]
        let centers = laneCenters
        let ownSide = roadCenter
        func view(forLane x: Float) -> SceneObject.View { lanes >= 2 && x < ownSide ? .front : .rear }
        var occupied: [(Float, Float)] = []   // (lane x, z) of lane vehicles
        func free(_ x: Float, _ z: Float, _ gap: Float) -> Bool {
            !occupied.contains { abs($0.0 - x) < 1 && abs($0.1 - z) < gap }
        }
        func laneVehicle(_ make: (Float, SceneObject.View) -> SceneObject.Kind, zRange: ClosedRange<Float>, gap: Float) {
            for _ in 0 ..< 6 {
                let x = rng.pick(centers) + rng.uniform(-0.3, 0.3)
                let z = rng.uniform(zRange.lowerBound, zRange.upperBound)
                if abs(x) < laneWidth / 2, z < 9 { continue }
                guard free(x, z, gap) else { continue }
                occupied.append((x, z))
                out.append(SceneObject(X: x, z: z, kind: make(x, view(forLane: x))))
                return
            }
        }
        for _ in 0 ..< rng.int(1 ... 5) {
            let paint = rng.pick(paints) * rng.uniform(0.85, 1.1)
            laneVehicle({ _, v in .car(paint, v) }, zRange: 6 ... 70, gap: 7)
        }
        // Parked cars along the kerbs, seen from the side.
        for _ in 0 ..< rng.int(0 ... 4) {
            let side: Float = rng.chance(0.5) ? -1 : 1
            out.append(SceneObject(X: roadCenter + side * (roadHalf - 1.0), z: rng.uniform(5, 50),
                                   kind: .car(rng.pick(paints), .side(rng.chance(0.5) ? 1 : -1))))
        }
        if rng.chance(0.4) || index % 4 == 2 {
            let paint = rng.pick([RGB(0.85, 0.85, 0.82), RGB(0.2, 0.3, 0.55), RGB(0.65, 0.15, 0.1), RGB(0.9, 0.75, 0.2)])
            if rng.chance(0.6) {
                laneVehicle({ _, v in .truck(paint, v) }, zRange: 12 ... 55, gap: 12)
            } else {
                let side: Float = rng.chance(0.5) ? -1 : 1
                out.append(SceneObject(X: roadCenter + side * (roadHalf - 1.3), z: rng.uniform(12, 45),
                                       kind: .truck(paint, .side(-side))))
            }
        }
        if rng.chance(0.4) || index % 4 == 0 {
            let paint = rng.pick([RGB(0.85, 0.8, 0.15), RGB(0.75, 0.12, 0.1), RGB(0.2, 0.45, 0.75), RGB(0.9, 0.9, 0.9)])
            if rng.chance(0.5) {
                laneVehicle({ _, v in .bus(paint, v) }, zRange: 14 ... 60, gap: 15)
            } else {
                let side: Float = rng.chance(0.5) ? -1 : 1
                out.append(SceneObject(X: roadCenter + side * (roadHalf - 1.4), z: rng.uniform(14, 40),
                                       kind: .bus(paint, .side(-side))))
            }
        }
        if rng.chance(0.15) || index % 5 == 3 {
            out.append(SceneObject(X: 0, z: rng.uniform(28, 55),
                                   kind: .train(rng.pick([RGB(0.8, 0.8, 0.78), RGB(0.75, 0.15, 0.12), RGB(0.2, 0.4, 0.6)]))))
        }
        // People on the sidewalks (and on the crossing).
        for _ in 0 ..< rng.int(1 ... 6) {
            let left = rng.chance(0.5)
            let x = left ? rng.uniform(sidewalkLeft + 0.3, roadCenter - roadHalf - 0.5)
                : rng.uniform(roadCenter + roadHalf + 0.5, sidewalkRight - 0.3)
            out.append(SceneObject(X: x, z: rng.uniform(4, 40),
                                   kind: .person(shirt: rng.pick(clothes), trousers: rng.pick(trousers),
                                                 skin: rng.pick(skins), phase: rng.uniform(-1, 1))))
        }
        if let cz = crosswalkZ, rng.chance(0.6) {
            out.append(SceneObject(X: roadCenter + rng.uniform(-roadHalf, roadHalf), z: cz + 1.5,
                                   kind: .person(shirt: rng.pick(clothes), trousers: rng.pick(trousers),
                                                 skin: rng.pick(skins), phase: rng.uniform(-1, 1))))
        }
        // Cyclists at the road edge, parked bicycles on the sidewalk.
        if rng.chance(0.55) || index % 3 == 0 {
            let side: Float = rng.chance(0.7) ? 1 : -1
            let v: SceneObject.View = rng.chance(0.5) ? .rear : .side(side * (rng.chance(0.5) ? 1 : -1))
            out.append(SceneObject(X: roadCenter + side * (roadHalf - 0.7), z: rng.uniform(6, 30),
                                   kind: .bicycle(v, rider: true, shirt: rng.pick(clothes), frame: rng.pick(paints))))
        }
        if rng.chance(0.35) {
            let side: Float = rng.chance(0.5) ? 1 : -1
            out.append(SceneObject(X: roadCenter + side * (roadHalf + 1.0), z: rng.uniform(5, 25),
                                   kind: .bicycle(.side(1), rider: false, shirt: RGB(0, 0, 0), frame: rng.pick(paints))))
        }
        if rng.chance(0.4) || index % 3 == 1 {
            let body = rng.pick([RGB(0.1, 0.1, 0.12), RGB(0.7, 0.1, 0.08), RGB(0.2, 0.3, 0.6), RGB(0.85, 0.85, 0.85)])
            let shirt = rng.pick(clothes)
            if rng.chance(0.7) {
                laneVehicle({ _, v in .motorcycle(v, rider: true, shirt: shirt, body: body) },
                            zRange: 7 ... 35, gap: 5)
            } else {
                let side: Float = rng.chance(0.5) ? 1 : -1
                out.append(SceneObject(X: roadCenter + side * (roadHalf + 0.8), z: rng.uniform(5, 25),
                                       kind: .motorcycle(.side(-side), rider: false, shirt: shirt, body: body)))
            }
        }
        // Poles along the kerbs: lamps, signals, signs; at least one signal and one sign.
        var poles: [SceneObject] = []
        for side: Float in [-1, 1] {
            var z = rng.uniform(4, 14)
            while z < min(zEnd, 70) {
                let kind: SceneObject.PoleKind
                switch rng.unit() {
                case ..<0.35: kind = .lamp(-side)
                case ..<0.55: kind = .signal
                case ..<0.85: kind = .sign(rng.int(0 ... 3))
                default: kind = .plain
                }
                let height: Float
                switch kind {
                case .lamp: height = rng.uniform(6, 9)
                case .signal: height = rng.uniform(3.2, 4.5)
                case .sign: height = rng.uniform(2.6, 3.2)
                case .plain: height = rng.uniform(3, 8)
                }
                poles.append(SceneObject(X: roadCenter + side * (roadHalf + 0.6), z: z, kind: .pole(kind, height: height)))
                z += rng.uniform(10, 26)
            }
        }
        func has(_ test: (SceneObject.PoleKind) -> Bool) -> Bool {
            poles.contains { if case .pole(let k, _) = $0.kind { test(k) } else { false } }
        }
        if !has({ if case .signal = $0 { true } else { false } }), !poles.isEmpty {
            poles[0].kind = .pole(.signal, height: 3.8)
        }
        if !has({ if case .sign = $0 { true } else { false } }), poles.count > 1 {
            poles[poles.count - 1].kind = .pole(.sign(rng.int(0 ... 3)), height: 2.9)
        }
        out += poles
        if rng.chance(0.5) {
            let side: Float = rng.chance(0.5) ? 1 : -1
            out.append(SceneObject(X: roadCenter + side * (roadHalf + 1.4), z: rng.uniform(4, 25), kind: .trashCan))
        }
        return out.filter { $0.z > 2.5 }
    }

    // MARK: drawing

    mutating func draw(_ object: SceneObject) {
        let b = billboard(x: object.X, z: object.z)
        guard b.x0 > -b.scale * 40, b.x0 < Float(canvas.width) + b.scale * 40 else { return }
        switch object.kind {
        case .car(let paint, let view): drawCar(b, paint, view)
        case .truck(let paint, let view): drawTruck(b, paint, view)
        case .bus(let paint, let view): drawBus(b, paint, view)
        case .train(let paint): drawTrain(object.z, paint)
        case .person(let shirt, let trousers, let skin, let phase):
            drawPerson(b, .person, shirt: shirt, trousers: trousers, skin: skin, phase: phase)
        case .bicycle(let view, let rider, let shirt, let frame): drawBicycle(b, view, rider: rider, shirt: shirt, frame: frame)
        case .motorcycle(let view, let rider, let shirt, let body): drawMotorcycle(b, view, rider: rider, shirt: shirt, body: body)
        case .pole(let kind, let height): drawPole(b, kind, height: height)
        case .trashCan:
            canvas.rect(b.p(-0.25, 0).0, b.p(-0.25, 0).1, b.p(0.25, 0.95).0, b.p(0.25, 0.95).1, .trashCan, z: b.z,
                        shaded(RGB(0.18, 0.3, 0.2), b, top: 0.95, noise, 0.2))
        }
    }

    private mutating func quad(_ b: Billboard, _ pts: [(Float, Float)], _ cls: SceneClass, emit: RGB? = nil,
                               _ shade: (Float, Float) -> RGB?) {
        canvas.polygon(pts.map { b.p($0.0, $0.1) }, cls, z: b.z, emit: emit, shade)
    }

    private mutating func box(_ b: Billboard, _ x0: Float, _ y0: Float, _ x1: Float, _ y1: Float, _ cls: SceneClass,
                              emit: RGB? = nil, _ shade: (Float, Float) -> RGB?) {
        quad(b, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], cls, emit: emit, shade)
    }

    private mutating func disc(_ b: Billboard, _ x: Float, _ y: Float, _ r: Float, inner: Float = 0, _ cls: SceneClass,
                               emit: RGB? = nil, _ shade: (Float, Float) -> RGB?) {
        let c = b.p(x, y)
        canvas.ellipse(c.0, c.1, r * b.scale, r * b.scale, inner: inner, cls, z: b.z, emit: emit, shade)
    }

    private mutating func light(_ b: Billboard, _ x: Float, _ y: Float, _ r: Float, _ color: RGB) {
        let c = b.p(x, y)
        canvas.lights.append(SceneLight(x: c.0, y: c.1, radius: max(1.5, r * b.scale), color: color))
    }

    mutating func drawCar(_ b: Billboard, _ paint: RGB, _ view: SceneObject.View) {
        let n = noise
        let glass = RGB(0.07, 0.09, 0.12), tyre = RGB(0.04, 0.04, 0.04)
        switch view {
        case .side(let dir):
            let d = dir
            quad(b, [(-2.15, 0.35), (2.15, 0.35), (2.15, 0.9), (-2.1, 0.95)].map { ($0.0 * d, $0.1) }, .car,
                 shaded(paint, b, top: 1.45, n, 0.1))
            quad(b, [(-1.45, 0.93), (1.45, 0.93), (0.85, 1.45), (-0.95, 1.45)].map { ($0.0 * d, $0.1) }, .car,
                 shaded(paint, b, top: 1.45, n, 0.1))
            quad(b, [(-1.3, 0.98), (1.3, 0.98), (0.78, 1.38), (-0.88, 1.38)].map { ($0.0 * d, $0.1) }, .car, tex(glass, n, 0.3))
            box(b, -0.02, 0.98, 0.06, 1.4, .car, tex(paint * 0.8, n, 0.1))
            for wx: Float in [-1.4, 1.4] {
                disc(b, wx, 0.33, 0.33, .car, tex(tyre, n, 0.2))
                disc(b, wx, 0.33, 0.16, .car, tex(RGB(0.55, 0.55, 0.56), n, 0.2))
            }
            box(b, 2.05 * d, 0.7, 2.15 * d, 0.82, .car, emit: RGB(1, 0.9, 0.7)) { _, _ in RGB(0.95, 0.92, 0.8) }
        case .rear, .front:
            let front: Bool = if case .front = view { true } else { false }
            box(b, -0.9, 0.2, 0.9, 0.95, .car, shaded(paint, b, top: 1.45, n, 0.1))
            quad(b, [(-0.8, 0.94), (0.8, 0.94), (0.62, 1.45), (-0.62, 1.45)], .car, shaded(paint, b, top: 1.45, n, 0.1))
            quad(b, [(-0.68, 1.0), (0.68, 1.0), (0.55, 1.38), (-0.55, 1.38)], .car, tex(glass, n, 0.3))
            box(b, -0.88, 0, -0.55, 0.3, .car, tex(tyre, n, 0.2))
            box(b, 0.55, 0, 0.88, 0.3, .car, tex(tyre, n, 0.2))
            box(b, -0.9, 0.2, 0.9, 0.34, .car, tex(paint * 0.55, n, 0.1))
            box(b, -0.22, 0.38, 0.22, 0.5, .car) { _, _ in RGB(0.9, 0.9, 0.85) }
            if front {
                box(b, -0.45, 0.55, 0.45, 0.75, .car, tex(RGB(0.1, 0.1, 0.1), n, 0.3))
                for s: Float in [-1, 1] {
                    box(b, s * 0.58, 0.62, s * 0.85, 0.76, .car, emit: RGB(1.2, 1.15, 1.0)) { _, _ in RGB(0.95, 0.95, 0.9) }
                    light(b, s * 0.72, 0.69, 0.5, RGB(1, 0.95, 0.85))
                }
            } else {
                for s: Float in [-1, 1] {
                    box(b, s * 0.6, 0.66, s * 0.88, 0.82, .car, emit: RGB(0.9, 0.05, 0.03)) { _, _ in RGB(0.75, 0.06, 0.05) }
                    light(b, s * 0.74, 0.74, 0.35, RGB(1, 0.1, 0.05))
                }
            }
        }
    }

    mutating func drawTruck(_ b: Billboard, _ paint: RGB, _ view: SceneObject.View) {
        let n = noise
        let tyre = RGB(0.04, 0.04, 0.04), cargo = RGB(0.82, 0.82, 0.8) * 0.95
        switch view {
        case .side(let d):
            box(b, -4.2 * d, 0.9, 2.3 * d, 3.7, .truck, shaded(cargo, b, top: 3.7, n, 0.12))
            box(b, -4.2 * d, 0.55, 4.2 * d, 0.95, .truck, tex(RGB(0.12, 0.12, 0.12), n, 0.2))
            box(b, 2.4 * d, 0.55, 4.2 * d, 3.0, .truck, shaded(paint, b, top: 3.0, n, 0.1))
            box(b, 2.9 * d, 1.9, 4.0 * d, 2.7, .truck, tex(RGB(0.08, 0.1, 0.13), n, 0.3))
            for wx: Float in [-3.2, -2.0, 3.3] {
                disc(b, wx * d, 0.5, 0.5, .truck, tex(tyre, n, 0.2))
                disc(b, wx * d, 0.5, 0.22, .truck, tex(RGB(0.5, 0.5, 0.5), n, 0.2))
            }
        case .rear:
            box(b, -1.25, 0.55, 1.25, 3.6, .truck, shaded(cargo, b, top: 3.6, n, 0.12))
            box(b, -0.02, 0.6, 0.02, 3.5, .truck) { _, _ in RGB(0.5, 0.5, 0.5) }
            box(b, -1.2, 0.2, 1.2, 0.6, .truck, tex(RGB(0.1, 0.1, 0.1), n, 0.2))
            box(b, -1.2, 0, -0.7, 0.5, .truck, tex(tyre, n, 0.2))
            box(b, 0.7, 0, 1.2, 0.5, .truck, tex(tyre, n, 0.2))
            for s: Float in [-1, 1] {
                box(b, s * 0.95, 0.35, s * 1.2, 0.5, .truck, emit: RGB(0.9, 0.05, 0.03)) { _, _ in RGB(0.75, 0.06, 0.05) }
                light(b, s * 1.07, 0.42, 0.3, RGB(1, 0.1, 0.05))
            }
        case .front:
            box(b, -1.25, 2.8, 1.2, 3.7, .truck, shaded(cargo, b, top: 3.7, n, 0.12))
            box(b, -1.2, 0.4, 1.2, 2.9, .truck, shaded(paint, b, top: 2.9, n, 0.1))
            box(b, -1.05, 1.7, 1.05, 2.6, .truck, tex(RGB(0.08, 0.1, 0.13), n, 0.3))
            box(b, -0.7, 0.7, 0.7, 1.3, .truck, tex(RGB(0.15, 0.15, 0.15), n, 0.3))
            box(b, -1.2, 0, -0.75, 0.5, .truck, tex(tyre, n, 0.2))
            box(b, 0.75, 0, 1.2, 0.5, .truck, tex(tyre, n, 0.2))
            for s: Float in [-1, 1] {
                box(b, s * 0.8, 0.8, s * 1.1, 1.0, .truck, emit: RGB(1.2, 1.15, 1.0)) { _, _ in RGB(0.95, 0.95, 0.9) }
                light(b, s * 0.95, 0.9, 0.5, RGB(1, 0.95, 0.85))
            }
        }
    }

    mutating func drawBus(_ b: Billboard, _ paint: RGB, _ view: SceneObject.View) {
        let n = noise
        let glass = RGB(0.08, 0.1, 0.14), tyre = RGB(0.04, 0.04, 0.04)
        switch view {
        case .side(let d):
            box(b, -5.6, 0.3, 5.6, 3.1, .bus, shaded(paint, b, top: 3.1, n, 0.1))
            var x: Float = -5.2
            while x < 5.0 {
                box(b, x * d, 1.45, (x + 1.05) * d, 2.65, .bus, tex(glass, n, 0.3))
                x += 1.25
            }
            box(b, 3.6 * d, 0.4, 4.5 * d, 2.65, .bus, tex(glass * 1.3, n, 0.3))
            box(b, -5.6, 2.9, 5.6, 3.1, .bus, tex(RGB(0.9, 0.9, 0.9), n, 0.1))
            for wx: Float in [-3.8, 3.6] {
                disc(b, wx * d, 0.5, 0.5, .bus, tex(tyre, n, 0.2))
                disc(b, wx * d, 0.5, 0.22, .bus, tex(RGB(0.5, 0.5, 0.5), n, 0.2))
            }
        case .rear, .front:
            let front: Bool = if case .front = view { true } else { false }
            box(b, -1.28, 0.3, 1.28, 3.1, .bus, shaded(paint, b, top: 3.1, n, 0.1))
            box(b, -1.15, front ? 1.3 : 1.9, 1.15, front ? 2.6 : 2.7, .bus, tex(glass, n, 0.3))
            box(b, -0.9, 2.7, 0.9, 3.0, .bus, emit: front ? RGB(0.9, 0.5, 0.05) : nil) { _, _ in RGB(0.15, 0.12, 0.05) }
            box(b, -1.25, 0, -0.8, 0.45, .bus, tex(tyre, n, 0.2))
            box(b, 0.8, 0, 1.25, 0.45, .bus, tex(tyre, n, 0.2))
            for s: Float in [-1, 1] {
                let lit = front ? RGB(1.2, 1.15, 1.0) : RGB(0.9, 0.05, 0.03)
                box(b, s * 0.9, 0.55, s * 1.2, 0.8, .bus, emit: lit) { _, _ in front ? RGB(0.95, 0.95, 0.9) : RGB(0.75, 0.06, 0.05) }
                light(b, s * 1.05, 0.68, 0.45, front ? RGB(1, 0.95, 0.85) : RGB(1, 0.1, 0.05))
            }
        }
    }

    /// A train crossing the street at distance z, with its track on the ground.
    mutating func drawTrain(_ z: Float, _ paint: RGB) {
        let n = noise
        // Track bed across the street.
        let xl = sidewalkLeft - 30, xr = sidewalkRight + 30
        let near = z - 1.4, far = z + 1.4
        let pts = [(xl, far), (xr, far), (xr, near), (xl, near)].map { (cx + f * $0.0 / $0.1, horizon + f * camH / $0.1) }
        canvas.polygon(pts, .railTrack, z: z, tex(RGB(0.3, 0.27, 0.24), n, 0.6, 2.5))
        let b = billboard(x: 0, z: z)
        let start = rng.uniform(-60, -20)
        let cars = rng.int(2 ... 4)
        for k in 0 ..< cars {
            let x0 = start + Float(k) * 19.2 - camH * 0, x1 = x0 + 18.4
            box(b, x0, 0.6, x1, 3.9, .train, shaded(paint, b, top: 3.9, n, 0.1))
            box(b, x0, 1.1, x1, 1.35, .train, tex(RGB(0.15, 0.25, 0.55), n, 0.1))
            var wx = x0 + 1.2
            while wx < x1 - 1.5 {
                box(b, wx, 2.0, wx + 1.1, 3.0, .train, tex(RGB(0.08, 0.1, 0.13), n, 0.3))
                wx += 1.6
            }
            box(b, x0 + 0.5, 0.1, x0 + 3.5, 0.65, .train, tex(RGB(0.1, 0.1, 0.1), n, 0.3))
            box(b, x1 - 3.5, 0.1, x1 - 0.5, 0.65, .train, tex(RGB(0.1, 0.1, 0.1), n, 0.3))
        }
    }

    mutating func drawPerson(_ b: Billboard, _ cls: SceneClass, shirt: RGB, trousers: RGB, skin: RGB, phase: Float,
                             seated: Bool = false, dx: Float = 0, dy: Float = 0) {
        let n = noise
        let s = phase * 0.16
        if !seated {
            quad(b, [(-0.17 + dx, 0.88 + dy), (-0.03 + dx, 0.88 + dy), (-0.03 + s + dx, dy), (-0.16 + s + dx, dy)], cls,
                 tex(trousers, n, 0.2))
            quad(b, [(0.03 + dx, 0.88 + dy), (0.17 + dx, 0.88 + dy), (0.16 - s + dx, dy), (0.03 - s + dx, dy)], cls,
                 tex(trousers * 0.85, n, 0.2))
        }
        quad(b, [(-0.21 + dx, 0.86 + dy), (0.21 + dx, 0.86 + dy), (0.23 + dx, 1.47 + dy), (-0.23 + dx, 1.47 + dy)], cls,
             tex(shirt, n, 0.25))
        box(b, -0.3 + dx, 0.92 + dy, -0.21 + dx, 1.44 + dy, cls, tex(shirt * 0.8, n, 0.2))
        box(b, 0.21 + dx, 0.92 + dy, 0.3 + dx, 1.44 + dy, cls, tex(shirt * 0.8, n, 0.2))
        box(b, -0.05 + dx, 1.45 + dy, 0.05 + dx, 1.52 + dy, cls, tex(skin, n, 0.1))
        let head = b.p(dx, 1.62 + dy)
        canvas.ellipse(head.0, head.1, 0.11 * b.scale, 0.13 * b.scale, cls, z: b.z, tex(skin, n, 0.15))
        let hair = b.p(dx, 1.7 + dy)
        canvas.ellipse(hair.0, hair.1, 0.115 * b.scale, 0.06 * b.scale, cls, z: b.z, tex(RGB(0.1, 0.07, 0.05), n, 0.2))
    }

    mutating func drawBicycle(_ b: Billboard, _ view: SceneObject.View, rider: Bool, shirt: RGB, frame: RGB) {
        let n = noise
        let tyre = RGB(0.05, 0.05, 0.05)
        switch view {
        case .side(let d):
            for wx: Float in [-0.52, 0.52] { disc(b, wx * d, 0.34, 0.34, inner: 0.78, .bicycle, tex(tyre, n, 0.2)) }
            let w: Float = 0.05 * b.scale
            let pts: [(Float, Float)] = [(-0.52, 0.34), (-0.12, 0.9), (0.02, 0.32), (0.42, 0.95), (0.52, 0.34)]
            for k in 0 ..< pts.count - 1 {
                canvas.line(b.p(pts[k].0 * d, pts[k].1), b.p(pts[k + 1].0 * d, pts[k + 1].1), width: w, .bicycle, z: b.z,
                            tex(frame, n, 0.1))
            }
            canvas.line(b.p(-0.52 * d, 0.34), b.p(0.02 * d, 0.32), width: w, .bicycle, z: b.z, tex(frame, n, 0.1))
            canvas.line(b.p(0.35 * d, 1.05), b.p(0.5 * d, 1.05), width: w, .bicycle, z: b.z, tex(RGB(0.1, 0.1, 0.1), n, 0.1))
            box(b, -0.22 * d, 0.9, -0.02 * d, 0.96, .bicycle) { _, _ in RGB(0.08, 0.08, 0.08) }
            if rider {
                let legs = RGB(0.12, 0.12, 0.2)
                canvas.line(b.p(-0.1 * d, 0.98), b.p(0.18 * d, 0.68), width: 0.13 * b.scale, .bicyclist, z: b.z, tex(legs, n, 0.2))
                canvas.line(b.p(0.18 * d, 0.68), b.p(0.05 * d, 0.3), width: 0.11 * b.scale, .bicyclist, z: b.z, tex(legs, n, 0.2))
                canvas.line(b.p(-0.1 * d, 0.98), b.p(0.12 * d, 1.5), width: 0.34 * b.scale, .bicyclist, z: b.z, tex(shirt, n, 0.25))
                canvas.line(b.p(0.1 * d, 1.42), b.p(0.42 * d, 1.05), width: 0.09 * b.scale, .bicyclist, z: b.z, tex(shirt * 0.8, n, 0.2))
                let head = b.p(0.2 * d, 1.66)
                canvas.ellipse(head.0, head.1, 0.11 * b.scale, 0.13 * b.scale, .bicyclist, z: b.z, tex(RGB(0.85, 0.65, 0.5), n, 0.15))
                canvas.ellipse(head.0, head.1 - 0.06 * b.scale, 0.13 * b.scale, 0.08 * b.scale, .bicyclist, z: b.z,
                               tex(RGB(0.9, 0.85, 0.2), n, 0.15))
            }
        case .rear, .front:
            box(b, -0.03, 0, 0.03, 0.68, .bicycle, tex(tyre, n, 0.2))
            if rider {
                drawPerson(b, .bicyclist, shirt: shirt, trousers: RGB(0.12, 0.12, 0.2), skin: RGB(0.85, 0.65, 0.5), phase: 0,
                           seated: true, dy: -0.05)
                canvas.line(b.p(-0.16, 0.85), b.p(-0.1, 0.3), width: 0.12 * b.scale, .bicyclist, z: b.z, tex(RGB(0.12, 0.12, 0.2), n, 0.2))
                canvas.line(b.p(0.16, 0.85), b.p(0.1, 0.45), width: 0.12 * b.scale, .bicyclist, z: b.z, tex(RGB(0.12, 0.12, 0.2), n, 0.2))
            }
            canvas.line(b.p(-0.32, 1.02), b.p(0.32, 1.02), width: 0.05 * b.scale, .bicycle, z: b.z, tex(RGB(0.1, 0.1, 0.1), n, 0.1))
            box(b, -0.05, 0.72, 0.05, 0.8, .bicycle, emit: RGB(0.6, 0.05, 0.02)) { _, _ in RGB(0.8, 0.1, 0.05) }
        }
    }

    mutating func drawMotorcycle(_ b: Billboard, _ view: SceneObject.View, rider: Bool, shirt: RGB, body: RGB) {
        let n = noise
        let tyre = RGB(0.04, 0.04, 0.04)
        switch view {
        case .side(let d):
            for wx: Float in [-0.72, 0.72] {
                disc(b, wx * d, 0.32, 0.32, .motorcycle, tex(tyre, n, 0.2))
                disc(b, wx * d, 0.32, 0.14, .motorcycle, tex(RGB(0.55, 0.55, 0.56), n, 0.2))
            }
            quad(b, [(-0.55, 0.42), (0.5, 0.42), (0.7, 0.8), (0.15, 0.98), (-0.65, 0.82)].map { ($0.0 * d, $0.1) }, .motorcycle,
                 shaded(body, b, top: 1.0, n, 0.15))
            box(b, -0.6 * d, 0.8, 0.0, 0.9, .motorcycle) { _, _ in RGB(0.06, 0.06, 0.06) }
            canvas.line(b.p(0.6 * d, 0.7), b.p(0.55 * d, 1.15), width: 0.05 * b.scale, .motorcycle, z: b.z, tex(RGB(0.3, 0.3, 0.3), n, 0.1))
            disc(b, 0.72 * d, 0.85, 0.08, .motorcycle, emit: RGB(1.2, 1.15, 1.0)) { _, _ in RGB(0.95, 0.95, 0.9) }
            if rider {
                canvas.line(b.p(-0.25 * d, 0.95), b.p(0.15 * d, 0.75), width: 0.15 * b.scale, .motorcyclist, z: b.z, tex(RGB(0.1, 0.1, 0.12), n, 0.2))
                canvas.line(b.p(0.15 * d, 0.75), b.p(0.2 * d, 0.45), width: 0.12 * b.scale, .motorcyclist, z: b.z, tex(RGB(0.1, 0.1, 0.12), n, 0.2))
                canvas.line(b.p(-0.25 * d, 0.95), b.p(0.0, 1.5), width: 0.38 * b.scale, .motorcyclist, z: b.z, tex(shirt, n, 0.25))
                canvas.line(b.p(-0.02 * d, 1.4), b.p(0.5 * d, 1.1), width: 0.1 * b.scale, .motorcyclist, z: b.z, tex(shirt * 0.8, n, 0.2))
                let head = b.p(0.05 * d, 1.68)
                canvas.ellipse(head.0, head.1, 0.15 * b.scale, 0.16 * b.scale, .motorcyclist, z: b.z, tex(RGB(0.1, 0.1, 0.1), n, 0.3))
            }
        case .rear, .front:
            let front: Bool = if case .front = view { true } else { false }
            box(b, -0.08, 0, 0.08, 0.62, .motorcycle, tex(tyre, n, 0.2))
            box(b, -0.3, 0.45, 0.3, 0.95, .motorcycle, shaded(body, b, top: 1.0, n, 0.15))
            canvas.line(b.p(-0.42, 1.1), b.p(0.42, 1.1), width: 0.05 * b.scale, .motorcycle, z: b.z, tex(RGB(0.2, 0.2, 0.2), n, 0.1))
            if rider {
                drawPerson(b, .motorcyclist, shirt: shirt, trousers: RGB(0.1, 0.1, 0.12), skin: RGB(0.1, 0.1, 0.1), phase: 0,
                           seated: true, dy: 0.05)
                canvas.line(b.p(-0.2, 0.95), b.p(-0.22, 0.4), width: 0.14 * b.scale, .motorcyclist, z: b.z, tex(RGB(0.1, 0.1, 0.12), n, 0.2))
                canvas.line(b.p(0.2, 0.95), b.p(0.22, 0.4), width: 0.14 * b.scale, .motorcyclist, z: b.z, tex(RGB(0.1, 0.1, 0.12), n, 0.2))
            }
            let lit = front ? RGB(1.2, 1.15, 1.0) : RGB(0.9, 0.05, 0.03)
            box(b, -0.1, 0.75, 0.1, 0.88, .motorcycle, emit: lit) { _, _ in front ? RGB(0.95, 0.95, 0.9) : RGB(0.75, 0.06, 0.05) }
            light(b, 0, 0.8, 0.35, front ? RGB(1, 0.95, 0.85) : RGB(1, 0.1, 0.05))
        }
    }

    mutating func drawPole(_ b: Billboard, _ kind: SceneObject.PoleKind, height: Float) {
        let n = noise
        let metal = RGB(0.45, 0.46, 0.47)
        box(b, -0.08, 0, 0.08, height, .pole, shaded(metal, b, top: height, n, 0.15))
        switch kind {
        case .plain: break
        case .lamp(let dir):
            canvas.line(b.p(0, height - 0.1), b.p(dir * 1.6, height + 0.25), width: max(1, 0.09 * b.scale), .pole, z: b.z,
                        tex(metal, n, 0.1))
            box(b, dir * 1.3, height + 0.05, dir * 1.95, height + 0.3, .streetLight, emit: RGB(1.3, 1.0, 0.6)) { _, _ in
                RGB(0.75, 0.72, 0.6)
            }
            light(b, dir * 1.62, height + 0.1, 0.9, RGB(1, 0.8, 0.45))
        case .signal:
            box(b, -0.2, height - 1.0, 0.2, height + 0.05, .trafficLight, tex(RGB(0.06, 0.06, 0.06), n, 0.2))
            let lit = rng.int(0 ... 2)
            let colors = [RGB(1, 0.1, 0.05), RGB(1, 0.65, 0.05), RGB(0.1, 1, 0.4)]
            for k in 0 ..< 3 {
                let y = height - 0.17 - Float(k) * 0.33
                let on = k == lit
                disc(b, 0, y, 0.11, .trafficLight, emit: on ? colors[k] * 1.5 : nil) { _, _ in on ? colors[k] : colors[k] * 0.15 }
                if on { light(b, 0, y, 0.9, colors[k]) }
            }
        case .sign(let shape):
            let y = height - 0.45
            switch shape {
            case 0:
                disc(b, 0, y, 0.36, .trafficSign) { _, _ in RGB(0.8, 0.08, 0.06) }
                disc(b, 0, y, 0.26, .trafficSign) { _, _ in RGB(0.92, 0.92, 0.9) }
            case 1:
                quad(b, [(-0.42, y - 0.3), (0.42, y - 0.3), (0, y + 0.42)], .trafficSign) { _, _ in RGB(0.8, 0.08, 0.06) }
                quad(b, [(-0.27, y - 0.21), (0.27, y - 0.21), (0, y + 0.24)], .trafficSign) { _, _ in RGB(0.92, 0.92, 0.9) }
            case 2:
                box(b, -0.32, y - 0.32, 0.32, y + 0.32, .trafficSign) { _, _ in RGB(0.08, 0.25, 0.7) }
                quad(b, [(-0.05, y - 0.22), (0.05, y - 0.22), (0.05, y + 0.05), (0.15, y + 0.05), (0, y + 0.22),
                         (-0.15, y + 0.05), (-0.05, y + 0.05)], .trafficSign) { _, _ in RGB(0.92, 0.92, 0.9) }
            default:
                quad(b, [(0, y - 0.4), (0.4, y), (0, y + 0.4), (-0.4, y)], .trafficSign) { _, _ in RGB(0.95, 0.78, 0.05) }
                quad(b, [(0, y - 0.3), (0.3, y), (0, y + 0.3), (-0.3, y)], .trafficSign) { _, _ in RGB(0.92, 0.92, 0.9) }
            }
        }
    }
}
