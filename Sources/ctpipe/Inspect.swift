// Inspect.swift — `ctpipe inspect FILE`: what a PNG/JPEG file holds, and its
// pixels as a NumPy array for checking against other tools.
// `ctpipe inspect --dataset KIND ROOT`: the image/label pairs of a dataset split,
// the problems found, and (with --scan) per-class pixel counts.

import ArgumentParser
import CTCore
import Datasets
import Foundation
import ImageIO
import PipelineRunner

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

            With --dataset KIND the argument is a dataset root: prints samples (number of \
            image/label pairs), layout, and problems ({file, kind, problem}); --scan decodes every \
            label and adds class_pixels (trainId "0".."18", "255" -> pixels) and unknown_values (raw \
            label values outside the encoding -> pixels). Exits with status 2 when problems were \
            found (the JSON is printed first), 5 when the split holds no sample and no problem was \
            found (nothing to inspect; the JSON is printed first), 1 when the dataset cannot be read \
            at all, 64 on a usage error.
            """
        )

        @Argument(help: ArgumentHelp("A PNG or JPEG file, or with --dataset the dataset root.", valueName: "path"))
        var path: String

        @Option(help: "Inspect a dataset root of this kind: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var dataset: DatasetKind?

        @Option(help: "Dataset split (default train; Mapillary train/val/test; GTA5 has none).")
        var split: String?

        @Option(help: "ACDC only: one condition (fog, night, rain, snow) instead of all four.")
        var condition: ACDCCondition?

        @Option(help: "Label layout: auto (converted trainId files when present), raw, converted, half (Mapillary val).")
        var layout: DatasetLayout = .auto

        @Option(name: .customLong("mapillary-version"), help: "Mapillary raw layout: annotation version v1.2 (default) or v2.0.")
        var mapillaryVersion: String?

        @Flag(help: "With --dataset: decode every label and count pixels per trainId (parallel).")
        var scan = false

        @Flag(name: .customLong("decode-images"), help: "With --scan: also decode every image fully (default: header only).")
        var decodeImages = false

        @Option(name: .customLong("dump-npy"), help: ArgumentHelp("Write the decoded pixels to this .npy file.", valueName: "OUT.npy"))
        var dumpNPY: String?

        @Flag(help: "Expand palette PNGs to RGB (and grey JPEGs stay grey) instead of dumping indices.")
        var expand = false

        @OptionGroup var decode: DecodeLimitOptions

        func validate() throws {
            if dataset == nil, split != nil || condition != nil || scan || layout != .auto || decodeImages || mapillaryVersion != nil {
                throw ValidationError("--split, --condition, --layout, --scan and --decode-images need --dataset")
            }
            if dataset != nil, dumpNPY != nil || expand {
                throw ValidationError("--dump-npy and --expand apply to single files, not --dataset")
            }
        }

        func run() throws {
            if let dataset { return try inspectDataset(dataset) }
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
                    let (image, info) = try PNG.decode(data, path: path, mode: mode, limits: decode.limits)
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
                    let (image, info) = try JPEG.decode(data, path: path, rgb: false, limits: decode.limits)
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
            print(try PrettyJSON.string(report))
        }
    }
}

extension CTPipe.Inspect {
    func inspectDataset(_ kind: DatasetKind) throws {
        let reader: any DatasetReader
        do {
            reader = try DatasetReaders.make(kind: kind, root: path, split: split, condition: condition, layout: layout,
                                               mapillaryVersion: mapillaryVersion)
        } catch { throw CLIError(error.description) }
        let listing = reader.list()
        var report = DatasetReport(dataset: kind.rawValue, root: path, split: listing.split, layout: listing.layout.rawValue,
                                   samples: listing.samples.count, problems: listing.problems.map(ProblemEntry.init))
        if scan {
            let result = DatasetScanner.scan(listing.samples, decodeImages: decodeImages, limits: decode.limits)
            report.scanned = result.scannedSamples
            report.problems += result.problems.map(ProblemEntry.init)
            var pixels: [String: Int] = [:]
            for trainId in Array(0 ... 18) + [255] { pixels[String(trainId)] = result.classPixels[trainId] }
            report.classPixels = pixels
            var unknown: [String: Int] = [:]
            for value in 0 ..< 256 where result.unknownValues[value] > 0 { unknown[String(value)] = result.unknownValues[value] }
            report.unknownValues = unknown
        }
        print(try PrettyJSON.string(report))
        if !report.problems.isEmpty { throw ExitCode(2) }
        if listing.samples.isEmpty {
            printError("error: \(path): no samples in split \(listing.split) (nothing to inspect)")
            throw ExitCode(RunCompletion.nothingDoneStatus)
        }
    }
}

struct ProblemEntry: Encodable {
    var file: String
    var kind: String
    var problem: String
    init(_ p: DatasetProblem) {
        file = p.file
        kind = p.kind.rawValue
        problem = p.message
    }
}

struct DatasetReport: Encodable {
    var dataset: String, root: String, split: String, layout: String
    var samples: Int
    var problems: [ProblemEntry]
    var scanned: Int?
    var classPixels: [String: Int]?, unknownValues: [String: Int]?

    enum CodingKeys: String, CodingKey {
        case dataset, root, split, layout, samples, problems, scanned
        case classPixels = "class_pixels", unknownValues = "unknown_values"
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
