// Inspect.swift — `ctpipe inspect FILE`: what a PNG/JPEG file holds, and its
// pixels as a NumPy array for checking against other tools.

import ArgumentParser
import CTCore
import Foundation
import ImageIO

extension CTPipe {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe an image or label file as JSON; optionally dump its pixels as .npy.",
            discussion: """
            Prints a JSON object: format, width, height, channels, bit_depth, color_type, \
            palette_size, interlace (PNG: "none" or "adam7"; JPEG: "progressive" or "baseline"). \
            With --dump-npy the decoded samples are written as an (H, W, C) uint8 or uint16 array. \
            Palette PNGs (label files such as GTA5's and Mapillary's) give their index plane \
            unless --expand asks for RGB. Exits with status 1 and a message on stderr for a \
            file that cannot be decoded.
            """
        )

        @Argument(help: "A PNG or JPEG file.")
        var path: String

        @Option(name: .customLong("dump-npy"), help: ArgumentHelp("Write the decoded pixels to this .npy file.", valueName: "OUT.npy"))
        var dumpNPY: String?

        @Flag(help: "Expand palette PNGs to RGB (and grey JPEGs stay grey) instead of dumping indices.")
        var expand = false

        func run() throws {
            let data: [UInt8]
            do { data = try ImageFile.bytes(path) } catch { throw CLIError(error.description) }
            var report = InspectReport()
            var array: NPYArray?
            do {
                switch ImageFormat.sniff(data) {
                case .png:
                    let mode: PNGDecodeMode
                    if expand {
                        let header = try PNG.info(data, path: path)
                        mode = header.colorType == .palette ? (header.hasTransparency ? .rgba : .rgb) : .native
                    } else {
                        mode = .native
                    }
                    let (image, info) = try PNG.decode(data, path: path, mode: mode)
                    report = InspectReport(format: "png", width: info.width, height: info.height,
                                           channels: info.colorType.channels, bitDepth: info.bitDepth,
                                           colorType: info.colorType.rawValue, paletteSize: info.paletteSize,
                                           interlace: info.interlaced ? "adam7" : "none",
                                           transparency: info.hasTransparency)
                    switch image {
                    case .uint8(let r): array = NPYArray(shape: [r.height, r.width, r.channels], uint8: r.pixels)
                    case .uint16(let r): array = NPYArray(shape: [r.height, r.width, r.channels], uint16: r.pixels)
                    }
                case .jpeg:
                    let (image, info) = try JPEG.decode(data, path: path, rgb: false)
                    report = InspectReport(format: "jpeg", width: info.width, height: info.height,
                                           channels: info.components, bitDepth: 8, colorType: info.colorSpace,
                                           paletteSize: 0, interlace: info.progressive ? "progressive" : "baseline",
                                           transparency: false)
                    array = NPYArray(shape: [image.height, image.width, image.channels], uint8: image.pixels)
                case nil:
                    throw ImageIOError(codec: .file, path: path,
                                       reason: data.isEmpty ? "file is empty" : "not a PNG or JPEG file (unrecognised signature)")
                }
            } catch let error as ImageIOError {
                throw CLIError(error.description)
            }
            if let dumpNPY, let array {
                do { try AtomicFile.write(array.encoded(), to: dumpNPY) } catch { throw CLIError(error.description) }
            }
            print(try JSONOutput.string(report))
        }
    }
}

struct InspectReport: Encodable {
    var format = ""
    var width = 0
    var height = 0
    var channels = 0
    var bitDepth = 0
    var colorType = ""
    var paletteSize = 0
    var interlace = ""
    var transparency = false

    enum CodingKeys: String, CodingKey {
        case format, width, height, channels, transparency, interlace
        case bitDepth = "bit_depth", colorType = "color_type", paletteSize = "palette_size"
    }
}
