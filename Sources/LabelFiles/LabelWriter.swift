// LabelWriter.swift — the writer stage: per image, any of a trainId PNG, a
// Cityscapes labelId PNG, an indexed colour PNG, an overlay, and a CVAT
// "Segmentation mask 1.1" export. Files are written atomically, so a resumed
// run rewrites identical bytes.
//
// Layout under the run's outputs/<dataset>/ folder (id = the sample id, which
// may contain folders, e.g. frankfurt/frankfurt_000000_000294; every path is
// checked to stay inside the folder, CTCore's ContainedFolder):
//   trainid/<id>.png                 8-bit grey, trainIds 0..18, 255 ignore
//   labelid/<id>_labelIds.png        8-bit grey, Cityscapes labelIds (0 for ignore);
//                                    cityscapesScripts finds it by city_seq_frame
//   color/<id>.png                   indexed PNG, Cityscapes colours, 255 black
//   overlay/<id>.png                 RGB: image blended with the colour mask
//   cvat/SegmentationClass/<id>.png  RGB colour mask; labelmap.txt and
//   cvat/ImageSets/Segmentation/default.txt are written once all shards finish

import CTCore
import Datasets
import ImageIO

/// The label files written per image (manifest `outputs.formats`, `ctpipe infer --format`).
public enum LabelFileFormat: String, Sendable, CaseIterable, Codable {
    case trainid, labelid, color, overlay, cvat
}

public struct LabelWriter: Sendable {
    public let formats: [LabelFileFormat]
    public let overlayAlpha: Double
    /// Compression level of written PNGs (zlib 0...9).
    public let level: Int
    /// `.durable`: each file is fsync'ed before its rename. `.atomic`: rename only; the
    /// caller syncs the returned paths (`AtomicFile.sync`) before it records them as done.
    public let durability: AtomicFile.Durability

    public init(formats: [LabelFileFormat], overlayAlpha: Double = 0.5, level: Int = 6,
                durability: AtomicFile.Durability = .durable) {
        self.formats = formats
        self.overlayAlpha = overlayAlpha
        self.level = level
        self.durability = durability
    }

    /// The 256-entry RGB palette of colour masks: trainIds 0..18 in Cityscapes colours, the rest black.
    public static let palette: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256 * 3)
        for (i, c) in LabelTables.trainClassColors.enumerated() {
            table[3 * i] = c.0
            table[3 * i + 1] = c.1
            table[3 * i + 2] = c.2
        }
        return table
    }()

    /// trainId -> Cityscapes labelId (255 and unknown -> 0, "unlabeled").
    public static let labelIds: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for (t, id) in LabelTables.trainIdToCityscapesId.enumerated() { table[t] = id }
        return table
    }()

    /// Writes every configured format for one prediction (trainId plane) below `folder` and
    /// returns the paths written. `image` is needed only for overlays. Every path goes through
    /// the folder's containment check: an id that would leave it (`..`, an empty part, a control
    /// character) or a link in it leading elsewhere throws `ContainmentError` before anything is
    /// written; a file that cannot be encoded or written throws `ImageIOError`.
    @discardableResult
    public func write(prediction: LabelMap, image: Image8?, id: String, into folder: ContainedFolder,
                      threads: Int = 1) throws -> [String] {
        let parts = try folder.components(of: id)
        /// `<format folders>/<id's folders>/<id's name><suffix>`.
        func file(_ folders: [String], _ suffix: String) throws -> String {
            try folder.file(folders + parts.dropLast() + [parts[parts.count - 1] + suffix])
        }
        let paths = try formats.map { format in
            switch format {
            case .trainid: try file(["trainid"], ".png")
            case .labelid: try file(["labelid"], "_labelIds.png")
            case .color: try file(["color"], ".png")
            case .overlay: try file(["overlay"], ".png")
            case .cvat: try file(["cvat", "SegmentationClass"], ".png")
            }
        }
        // One format after another, each compressed in row parts over `threads` threads (PNG.encode):
        // formats differ in cost (a filtered grey plane, an unfiltered palette one), parts are even.
        for (format, path) in zip(formats, paths) {
            try writeOne(format, to: path, prediction: prediction, image: image, threads: threads)
        }
        return paths
    }

    /// One format's file, its PNG compressed over `threads` threads.
    func writeOne(_ format: LabelFileFormat, to path: String, prediction: LabelMap, image: Image8?, threads: Int = 1) throws {
        func write(_ raster: Image8, _ format: PNG.EncodeFormat = .direct) throws {
            try ImageFile.writePNG(raster, to: path, format: format, level: level, durability: durability, threads: threads)
        }
        switch format {
        case .trainid: try write(prediction)
        case .labelid: try write(Self.mapped(prediction, Self.labelIds))
        case .color: try write(Self.clampedToPalette(prediction), .palette(Self.palette))
        case .overlay:
            guard let image else { throw ImageIOError(codec: .file, path: path, reason: "an overlay needs the input image") }
            try write(Self.overlay(image: image, prediction: prediction, alpha: overlayAlpha))
        case .cvat: try write(Self.colorMask(prediction))
        }
    }

    /// Writes the per-dataset files of the CVAT export once all samples are written
    /// (`ContainmentError` or `FileError`).
    public func finish(ids: [String], into folder: ContainedFolder) throws {
        guard formats.contains(.cvat) else { return }
        var labelmap = "# label:color_rgb:parts:actions\nbackground:0,0,0::\n"
        for (name, c) in zip(CityscapesClasses.names, LabelTables.trainClassColors) {
            labelmap += "\(name):\(c.0),\(c.1),\(c.2)::\n"
        }
        try AtomicFile.write(text: labelmap, to: try folder.file(["cvat", "labelmap.txt"]))
        try AtomicFile.write(text: ids.joined(separator: "\n") + "\n", to: try folder.file(["cvat", "ImageSets", "Segmentation", "default.txt"]))
    }

    static func mapped(_ plane: LabelMap, _ table: [UInt8]) -> LabelMap {
        var out = plane
        table.withUnsafeBufferPointer { lut in
            out.pixels.withUnsafeMutableBufferPointer { p in
                for i in 0 ..< p.count { p[i] = lut[Int(p[i])] }
            }
        }
        return out
    }

    /// Values outside 0..18 become 255 (black) so the palette covers them.
    static func clampedToPalette(_ plane: LabelMap) -> LabelMap {
        var table = [UInt8](repeating: 255, count: 256)
        for t in 0 ..< CityscapesClasses.names.count { table[t] = UInt8(t) }
        return mapped(plane, table)
    }

    /// RGB colour mask of a trainId plane.
    public static func colorMask(_ plane: LabelMap) -> Image8 {
        var out = [UInt8](repeating: 0, count: plane.width * plane.height * 3)
        palette.withUnsafeBufferPointer { pal in
            plane.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0 ..< src.count {
                        let v = Int(src[i]) * 3
                        dst[3 * i] = pal[v]
                        dst[3 * i + 1] = pal[v + 1]
                        dst[3 * i + 2] = pal[v + 2]
                    }
                }
            }
        }
        return Image8(width: plane.width, height: plane.height, channels: 3, pixels: out)
    }

    /// The image blended with the colour mask: out = (1-a)*image + a*colour,
    /// rounded half up; pixels predicted as 255 keep the image.
    public static func overlay(image: Image8, prediction: LabelMap, alpha: Double) -> Image8 {
        precondition(image.width == prediction.width && image.height == prediction.height && image.channels == 3,
                     "overlay: image \(image.width)x\(image.height)x\(image.channels) vs prediction \(prediction.width)x\(prediction.height)")
        let a = Int((alpha * 256).rounded())
        var out = image
        palette.withUnsafeBufferPointer { pal in
            prediction.pixels.withUnsafeBufferPointer { src in
                out.pixels.withUnsafeMutableBufferPointer { dst in
                    for i in 0 ..< src.count where src[i] < 19 {
                        let v = Int(src[i]) * 3
                        for c in 0 ..< 3 {
                            dst[3 * i + c] = UInt8(((256 - a) * Int(dst[3 * i + c]) + a * Int(pal[v + c]) + 128) >> 8)
                        }
                    }
                }
            }
        }
        return out
    }
}
