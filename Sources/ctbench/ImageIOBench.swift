// ImageIOBench.swift — `ctbench imageio [--seconds S] FILES...`: PNG decode and
// encode, JPEG decode, timed on in-memory bytes (file reading excluded), as
// scripts/bench_imageio.py times Pillow on the same files.
//
// PNG files are decoded the way ctpipe uses them: palette files to their index
// plane (.native, what Pillow's mode "P" holds), others to 8-bit samples; the
// decoded raster is re-encoded at zlib level 6 (Pillow's default) in the same
// layout (palette files as palette PNGs). JPEG files decode to RGB.

import CTCore
import Foundation
import ImageIO

enum ImageIOBench {
    struct Result: Encodable {
        var file: String, format: String
        var width: Int, height: Int, channels: Int
        /// Decoded sample bytes: the unit of the MB/s figures.
        var pixelBytes: Int
        var fileBytes: Int
        var decodeBest: Double, decodeMedian: Double, decodeRuns: Int
        var encodeBest: Double?, encodeMedian: Double?, encodedBytes: Int?

        enum CodingKeys: String, CodingKey {
            case file, format, width, height, channels
            case pixelBytes = "pixel_bytes", fileBytes = "file_bytes"
            case decodeBest = "decode_best_s", decodeMedian = "decode_median_s", decodeRuns = "decode_runs"
            case encodeBest = "encode_best_s", encodeMedian = "encode_median_s", encodedBytes = "encoded_bytes"
        }
    }

    static func run(_ arguments: [String]) throws {
        var files: [String] = []
        var seconds = 1.0
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "--seconds", let value = iterator.next().flatMap(Double.init) { seconds = value } else { files.append(argument) }
        }
        guard !files.isEmpty else { throw ImageIOError(codec: .file, path: "-", reason: "usage: ctbench imageio [--seconds S] FILES...") }
        var results: [Result] = []
        var checksum = 0
        for file in files {
            let bytes = try ImageFile.bytes(file)
            switch ImageFormat.sniff(bytes) {
            case .png:
                let info = try PNG.info(bytes, path: file)
                let mode = PNGDecodeMode.native
                let (image, _) = try PNG.decode(bytes, path: file, mode: mode)
                guard case .uint8(let raster) = image else {
                    throw ImageIOError(codec: .png, path: file, reason: "benchmark expects 8-bit files")
                }
                let decode = try BenchTiming.measure(minSeconds: seconds) {
                    let (decoded, _) = try PNG.decode(bytes, path: file, mode: mode)
                    checksum &+= decoded.width
                }
                let format: PNG.EncodeFormat = info.colorType == .palette ? .palette(info.palette) : .direct
                var encodedBytes = 0
                let encode = try BenchTiming.measure(minSeconds: seconds) {
                    encodedBytes = try PNG.encode(raster, format: format, level: 6, path: file).count
                }
                results.append(Result(file: file, format: "png", width: raster.width, height: raster.height,
                                      channels: raster.channels, pixelBytes: raster.pixels.count, fileBytes: bytes.count,
                                      decodeBest: decode.best, decodeMedian: decode.median, decodeRuns: decode.runs,
                                      encodeBest: encode.best, encodeMedian: encode.median, encodedBytes: encodedBytes))
            case .jpeg:
                let (image, _) = try JPEG.decode(bytes, path: file, rgb: true)
                let decode = try BenchTiming.measure(minSeconds: seconds) {
                    let (decoded, _) = try JPEG.decode(bytes, path: file, rgb: true)
                    checksum &+= decoded.width
                }
                results.append(Result(file: file, format: "jpeg", width: image.width, height: image.height,
                                      channels: image.channels, pixelBytes: image.pixels.count, fileBytes: bytes.count,
                                      decodeBest: decode.best, decodeMedian: decode.median, decodeRuns: decode.runs))
            case nil:
                throw ImageIOError(codec: .file, path: file, reason: "not a PNG or JPEG file")
            }
        }
        print(try PrettyJSON.string(results))
        if checksum == 42 { FileHandle.standardError.write(Data("\n".utf8)) }  // keeps the decodes observable
    }
}
