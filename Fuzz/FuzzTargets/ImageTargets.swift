// ImageTargets.swift — PNG and JPEG decoding as the readers use it: header
// first, then the decode as RGB and as a label map, under the fuzzing limits.

import ImageIO

enum ImageTargets {
    static func png(_ bytes: [UInt8]) -> [String] {
        let limits = FuzzTarget.limits
        return [
            step("png info") { () throws(ImageIOError) in "\(try PNG.info(bytes, path: "input.png"))" },
            step("png rgb") { () throws(ImageIOError) in
                let image = try PNG.decodeRGB(bytes, path: "input.png", limits: limits)
                return "\(image.width)x\(image.height)"
            },
            step("png label") { () throws(ImageIOError) in
                let label = try PNG.decodeLabel(bytes, path: "input.png", limits: limits)
                return "\(label.width)x\(label.height)"
            },
        ]
    }

    static func jpeg(_ bytes: [UInt8]) -> [String] {
        let limits = FuzzTarget.limits
        return [
            step("jpeg info") { () throws(ImageIOError) in "\(try JPEG.info(bytes, path: "input.jpg"))" },
            step("jpeg rgb") { () throws(ImageIOError) in
                let (image, _) = try JPEG.decode(bytes, path: "input.jpg", limits: limits)
                return "\(image.width)x\(image.height)"
            },
            step("jpeg grey") { () throws(ImageIOError) in
                let (image, _) = try JPEG.decode(bytes, path: "input.jpg", rgb: false, limits: limits)
                return "\(image.width)x\(image.height)"
            },
        ]
    }
}
