// PhotoMetricTests.swift — OpenCV HSV conversions bit-exact on all 2^24
// inputs, each PhotoMetricDistortion step and whole runs against numpy/cv2,
// and the draw order.

@testable import Augment
import CTCore
import ImageIO
import TestSupport
import Testing

@Suite struct PhotoMetricTests {
    /// sum_i a[i] * w[i] mod 2^64, w[i] = (i * 0x9E3779B1 mod 2^32) | 1 (as the fixture script).
    struct Checksum {
        var value: UInt64 = 0
        var index: UInt64 = 0
        @inline(__always) mutating func add(_ byte: UInt8) {
            value &+= UInt64(byte) &* (((index &* 0x9E37_79B1) & 0xFFFF_FFFF) | 1)
            index += 1
        }
    }

    static func triple(_ a: Int) -> (UInt8, UInt8, UInt8) {
        (UInt8(a >> 16), UInt8((a >> 8) & 255), UInt8(a & 255))
    }

    @Test func hsvSampleMatchesOpenCV() throws {
        let index = try fixtures.npy("hsv_sample_index.npy").bytes
        let expected = try fixtures.npy("hsv_sample.npy").bytes      // (N, 3 conversions, 3)
        for n in 0 ..< index.count / 4 {
            let a = Int(index[4 * n]) | Int(index[4 * n + 1]) << 8 | Int(index[4 * n + 2]) << 16
            let (x, y, z) = Self.triple(a)
            let e = Array(expected[9 * n ..< 9 * n + 9])
            let hsv = OpenCVHSV.hsv(r: x, g: y, b: z)
            #expect([hsv.h, hsv.s, hsv.v] == Array(e[0 ..< 3]), "to HSV of RGB \(x),\(y),\(z)")
            let v = OpenCVHSV.rgb(h: x, s: y, v: z, vectorPath: true)
            #expect([v.r, v.g, v.b] == Array(e[3 ..< 6]), "vector path of HSV \(x),\(y),\(z)")
            let s = OpenCVHSV.rgb(h: x, s: y, v: z, vectorPath: false)
            #expect([s.r, s.g, s.b] == Array(e[6 ..< 9]), "scalar path of HSV \(x),\(y),\(z)")
        }
    }

    @Test func hsvAllInputsMatchOpenCVChecksums() throws {
        let expected = try fixtures.augment().hsvChecksums
        var toHSV = Checksum(), vector = Checksum(), scalar = Checksum()
        for a in 0 ..< (1 << 24) {
            let (x, y, z) = Self.triple(a)
            let hsv = OpenCVHSV.hsv(r: x, g: y, b: z)
            toHSV.add(hsv.h); toHSV.add(hsv.s); toHSV.add(hsv.v)
            let v = OpenCVHSV.rgb(h: x, s: y, v: z, vectorPath: true)
            vector.add(v.r); vector.add(v.g); vector.add(v.b)
            let s = OpenCVHSV.rgb(h: x, s: y, v: z, vectorPath: false)
            scalar.add(s.r); scalar.add(s.g); scalar.add(s.b)
        }
        #expect(toHSV.value == expected.toHSV)
        #expect(vector.value == expected.toRGBVector)
        #expect(scalar.value == expected.toRGBScalar)
    }

    @Test func eachStepMatchesReference() throws {
        let fx = try fixtures.augment()
        let input = try fixtures.raster("pmd_in.npy")
        let expected = try fixtures.npy("pmd_steps.npy")
        let plane = input.pixels.count
        for (i, step) in fx.pmdSteps.enumerated() {
            let out: Image8
            switch step.kind {
            case "brightness": out = PhotoMetricDistortion.brightness(input, beta: step.value)
            case "contrast": out = PhotoMetricDistortion.contrast(input, alpha: step.value)
            case "saturation": out = PhotoMetricDistortion.saturation(input, alpha: step.value)
            default: out = PhotoMetricDistortion.hue(input, delta: Int(step.value))
            }
            let want = Array(expected.bytes[i * plane ..< (i + 1) * plane])
            let wrong = zip(out.pixels, want).filter { $0 != $1 }.count
            #expect(wrong == 0, "\(step.kind) \(step.value): \(wrong) samples differ")
        }
    }

    @Test func wholeDistortionMatchesReference() throws {
        let fx = try fixtures.augment()
        let input = try fixtures.raster("pmd_in.npy")
        let expected = try fixtures.npy("pmd_full.npy")
        let plane = input.pixels.count
        for (i, d) in fx.pmdFull.enumerated() {
            let draws = PhotoMetricDistortion.Draws(brightness: d.brightness, contrastFirst: d.contrastFirst,
                                                    contrast: d.contrast, saturation: d.saturation, hue: d.hue)
            let out = try PhotoMetricDistortion.apply(image: input, draws: draws)
            #expect(out.pixels == Array(expected.bytes[i * plane ..< (i + 1) * plane]), "run \(i)")
        }
    }

    @Test func drawOrderContrastFirst() {
        var random = ScriptedRandom([.int(1), .real(-3.5), .int(1), .int(1), .real(1.2), .int(1), .real(0.9),
                                     .int(1), .int(-18)])
        let d = PhotoMetricDistortion().draw(&random)
        #expect(random.log == ["int 0..<2", "uniform -32.0..<32.0", "int 0..<2", "int 0..<2", "uniform 0.5..<1.5",
                               "int 0..<2", "uniform 0.5..<1.5", "int 0..<2", "int -18..<18"])
        #expect(d == PhotoMetricDistortion.Draws(brightness: -3.5, contrastFirst: true, contrast: 1.2,
                                                 saturation: 0.9, hue: -18))
        #expect(random.queue.isEmpty)
    }

    @Test func drawOrderContrastLastAndSkippedSteps() {
        var random = ScriptedRandom([.int(0), .int(0), .int(0), .int(1), .int(17), .int(1), .real(0.5)])
        let d = PhotoMetricDistortion().draw(&random)
        #expect(random.log == ["int 0..<2", "int 0..<2", "int 0..<2", "int 0..<2", "int -18..<18", "int 0..<2",
                               "uniform 0.5..<1.5"])
        #expect(d == PhotoMetricDistortion.Draws(brightness: nil, contrastFirst: false, contrast: 0.5,
                                                 saturation: nil, hue: 17))
    }

    @Test func rejectsGreyImages() {
        #expect(throws: AugmentError.self) {
            try PhotoMetricDistortion.apply(image: Image8(width: 2, height: 2, channels: 1, filledWith: 0),
                                            draws: .init(brightness: 3))
        }
    }
}
