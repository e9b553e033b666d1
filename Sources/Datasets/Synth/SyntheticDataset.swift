// SyntheticDataset.swift — writes generated street scenes as a dataset tree in
// the exact on-disk layout, file naming, image format and label encoding of
// Cityscapes, GTA5, ACDC, BDD100K or Mapillary Vistas, so the readers are
// exercised on the real formats. Images are rendered in parallel; every file is
// written atomically; the bytes depend only on the options.

import CTCore
import Foundation
import ImageIO

/// What to generate.
public struct SynthOptions: Sendable {
    public var dataset: DatasetKind
    /// The dataset root to create (or add to).
    public var root: String
    /// Images per split (for ACDC: per condition).
    public var count: Int = 20
    public var seed: UInt64 = 0
    /// Nominal image size; Mapillary varies size and aspect ratio around its area.
    public var size = ImageSize(width: 256, height: 128)
    /// ACDC conditions to write.
    public var conditions: [ACDCCondition] = ACDCCondition.allCases
    /// Split folder (Mapillary: train/val/test or training/validation/testing); ignored for GTA5.
    public var split: String = "train"
    /// Write only what the official download holds, without the DGSS converted
    /// files (`*_labelTrainIds.png` of Cityscapes/GTA5, Mapillary
    /// `cityscapes_trainIdLabel/` and `half/`). ACDC ships trainId files itself.
    public var rawOnly = false

    public init(dataset: DatasetKind, root: String) {
        self.dataset = dataset
        self.root = root
    }
}

/// What was written.
public struct SynthSummary: Sendable, Equatable, Codable {
    public var dataset: String, root: String, split: String
    public var images: Int, files: Int
}

public enum SyntheticDataset {
    /// The style each dataset is rendered in.
    public static func style(for dataset: DatasetKind, condition: ACDCCondition? = nil) -> SceneStyle {
        switch dataset {
        case .cityscapes: .camera
        case .gta5: .game
        case .acdc: .adverse(condition ?? .fog)
        case .bdd100k: .dashcam
        case .mapillary: .phone
        }
    }

    public static func write(_ options: SynthOptions) throws(DatasetError) -> SynthSummary {
        guard options.count >= 1 else { throw DatasetError("synth: --count must be at least 1, got \(options.count)") }
        guard options.size.width >= 16, options.size.height >= 16, options.size.width * options.size.height <= 1 << 24 else {
            throw DatasetError("synth: size \(options.size) out of range (16x16 ... 16 megapixels)")
        }
        guard !options.conditions.isEmpty else { throw DatasetError("synth: no ACDC condition selected") }
        var split = options.split
        if options.dataset == .mapillary {
            switch split {
            case "train", "training": split = "training"
            case "val", "validation": split = "validation"
            case "test", "testing": split = "testing"
            default: throw DatasetError("synth: unknown Mapillary split '\(split)' (use train, val or test)")
            }
        } else if options.dataset == .gta5 {
            split = "all"
        }
        guard !split.isEmpty, !split.contains("/") else { throw DatasetError("synth: invalid split '\(split)'") }
        do {
            try FileManager.default.createDirectory(atPath: options.root, withIntermediateDirectories: true)
        } catch {
            throw DatasetError("synth: cannot create \(options.root): \(error.localizedDescription)")
        }
        if options.dataset == .mapillary {
            do {
                try AtomicFile.write(text: MapillaryConfig.v12.jsonText(), to: options.root + "/config_v1.2.json")
            } catch { throw DatasetError("synth: \(error.description)") }
        }
        let conditions: [ACDCCondition?] = options.dataset == .acdc
            ? ACDCCondition.allCases.filter(options.conditions.contains).map { $0 } : [nil]
        let folder = split
        let jobs = conditions.flatMap { c in (0 ..< options.count).map { (c, $0) } }
        let results = Parallel.map(jobs.count) { k -> Result<Int, DatasetError> in
            let (condition, index) = jobs[k]
            do throws(DatasetError) {
                return .success(try writeOne(options, split: folder, condition: condition, index: index))
            } catch {
                return .failure(error)
            }
        }
        var files = options.dataset == .mapillary ? 1 : 0
        for result in results {
            switch result {
            case .success(let n): files += n
            case .failure(let error): throw error
            }
        }
        return SynthSummary(dataset: options.dataset.rawValue, root: options.root, split: split, images: jobs.count, files: files)
    }

    // MARK: one image

    static func writeOne(_ o: SynthOptions, split: String, condition: ACDCCondition?, index: Int) throws(DatasetError) -> Int {
        var written = 0
        func png(_ image: Image8, _ path: String, _ format: PNG.EncodeFormat = .direct) throws(DatasetError) {
            do { try ImageFile.writePNG(image, to: path, format: format) } catch { throw DatasetError("synth: \(error.description)") }
            written += 1
        }
        func jpeg(_ image: Image8, _ path: String, quality: Int) throws(DatasetError) {
            do { try ImageFile.writeJPEG(image, to: path, quality: quality) } catch { throw DatasetError("synth: \(error.description)") }
            written += 1
        }
        let root = o.root
        switch o.dataset {
        case .cityscapes:
            let scene = SceneRenderer.render(seed: o.seed, index: index, width: o.size.width, height: o.size.height, style: .camera)
            let cities = cityNames(split)
            let city = cities[index % cities.count]
            let stem = "\(city)_\(pad(index / cities.count, 6))_000019"
            let image = "\(root)/leftImg8bit/\(split)/\(city)/\(stem)_leftImg8bit.png"
            let gt = "\(root)/gtFine/\(split)/\(city)/\(stem)_gtFine_"
            let ids = scene.cityscapesIds
            try png(scene.image, image)
            try png(ids, gt + "labelIds.png")
            try png(colorize(ids, colors: cityscapesColors, alpha: true), gt + "color.png")
            if !o.rawOnly { try png(scene.trainIds, gt + "labelTrainIds.png") }
        case .gta5:
            let scene = SceneRenderer.render(seed: o.seed, index: index, width: o.size.width, height: o.size.height, style: .game)
            let stem = pad(index + 1, 5)
            try png(scene.image, "\(root)/images/\(stem).png")
            try png(scene.cityscapesIds, "\(root)/labels/\(stem).png", .palette(gtaPalette))
            if !o.rawOnly { try png(scene.trainIds, "\(root)/labels/\(stem)_labelTrainIds.png") }
        case .acdc:
            let c = condition ?? .fog
            let ci = ACDCCondition.allCases.firstIndex(of: c)!
            let runSeed = SplitMix64.derive(o.seed, UInt64(1000 + ci))
            let scene = SceneRenderer.render(seed: runSeed, index: index, width: o.size.width, height: o.size.height,
                                             style: .adverse(c))
            let sequence = "GOPR" + pad(Int(runSeed % 400) + 100 * (ci + 1) + index / 4, 4)
            let stem = "\(sequence)_frame_\(pad(20 + (index % 4) * 37, 6))"
            let gt = "\(root)/gt/\(c.rawValue)/\(split)/\(sequence)/\(stem)_gt_"
            let ids = scene.cityscapesIds
            try png(scene.image, "\(root)/rgb_anon/\(c.rawValue)/\(split)/\(sequence)/\(stem)_rgb_anon.png")
            try png(ids, gt + "labelIds.png")
            try png(scene.trainIds, gt + "labelTrainIds.png")
            try png(colorize(ids, colors: cityscapesColors, alpha: false), gt + "labelColor.png")
        case .bdd100k:
            let scene = SceneRenderer.render(seed: o.seed, index: index, width: o.size.width, height: o.size.height, style: .dashcam)
            let key = SplitMix64.derive(o.seed, UInt64(index) | 1 << 40)
            let stem = hex(key >> 32) + "-" + hex(key & 0xFFFF_FFFF)
            let train = scene.trainIds
            try jpeg(scene.image, "\(root)/images/10k/\(split)/\(stem).jpg", quality: 90)
            try png(train, "\(root)/labels/sem_seg/masks/\(split)/\(stem).png")
            try png(colorize(train, colors: bddColors, alpha: false), "\(root)/labels/sem_seg/colormaps/\(split)/\(stem).png")
        case .mapillary:
            var rng = SplitMix64(seed: SplitMix64.derive(o.seed, UInt64(index) | 1 << 41))
            let key = String((0 ..< 22).map { _ in keyAlphabet[Int(rng.next() % 64)] })
            let (a, b) = rng.pick([(4, 3), (4, 3), (16, 9), (3, 2), (3, 4), (9, 16)])
            let area = Float(o.size.width * o.size.height) * rng.uniform(0.6, 1.5)
            let height = max(16, Int((area * Float(b) / Float(a)).squareRoot()))
            let width = max(16, Int(Float(height) * Float(a) / Float(b)))
            let scene = SceneRenderer.render(seed: o.seed, index: index, width: width, height: height, style: .phone)
            try jpeg(scene.image, "\(root)/\(split)/images/\(key).jpg", quality: 92)
            try png(scene.mapillaryIndices, "\(root)/\(split)/v1.2/labels/\(key).png", .palette(MapillaryConfig.v12.palette))
            if !o.rawOnly, split != "testing" {
                let short = split == "training" ? "train" : "val"
                // As mapillary2cityscape.py does: v1.2 index -> trainId by the name rule.
                let train = mapillaryV12.map(scene.mapillaryIndices)
                try png(train, "\(root)/cityscapes_trainIdLabel/\(short)/label/\(key).png")
                if split == "validation" {
                    let hw = max(1, width / 2), hh = max(1, height / 2)
                    try jpeg(halve(scene.image, width: hw, height: hh), "\(root)/half/val_img/\(key).jpg", quality: 75)
                    try png(Resize.nearest(train, width: hw, height: hh, rule: .pillow), "\(root)/half/val_label/\(key).png")
                }
            }
        }
        return written
    }

    // MARK: helpers

    static let mapillaryV12 = LabelEncoding.mapillary(version: "v1.2", trainIds: MapillaryConfig.v12.trainIds)

    static let keyAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    static func cityNames(_ split: String) -> [String] {
        switch split {
        case "val": ["frankfurt", "lindau", "munster"]
        case "test": ["berlin", "bielefeld", "bonn"]
        default: ["aachen", "bochum", "bremen", "zurich"]
        }
    }

    static func pad(_ value: Int, _ digits: Int) -> String {
        let s = String(value)
        return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
    }

    static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }

    /// Cityscapes colour of each labelId 0...255 (non-ids black).
    static let cityscapesColors: [(UInt8, UInt8, UInt8)] = {
        var table = [(UInt8, UInt8, UInt8)](repeating: (0, 0, 0), count: 256)
        for label in LabelTables.cityscapesLabels where label.id >= 0 { table[label.id] = label.color }
        return table
    }()

    /// GTA5 label palette: entry i = Cityscapes colour of labelId i, 256 entries.
    static let gtaPalette: [UInt8] = cityscapesColors.flatMap { [$0.0, $0.1, $0.2] }

    /// BDD100K colormap colours by trainId (255 black).
    static let bddColors: [(UInt8, UInt8, UInt8)] = {
        var table = [(UInt8, UInt8, UInt8)](repeating: (0, 0, 0), count: 256)
        for (i, c) in LabelTables.bdd100kColormapColors.enumerated() { table[i] = c }
        return table
    }()

    static func colorize(_ labels: LabelMap, colors: [(UInt8, UInt8, UInt8)], alpha: Bool) -> Image8 {
        let channels = alpha ? 4 : 3
        var out = [UInt8](repeating: 255, count: labels.pixels.count * channels)
        for (i, v) in labels.pixels.enumerated() {
            let c = colors[Int(v)]
            out[i * channels] = c.0
            out[i * channels + 1] = c.1
            out[i * channels + 2] = c.2
        }
        return Image8(width: labels.width, height: labels.height, channels: channels, pixels: out)
    }

    /// Box-filtered half-size copy (the synthetic stand-in for Mapillary's half/val_img).
    static func halve(_ image: Image8, width: Int, height: Int) -> Image8 {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0 ..< height {
            for x in 0 ..< width {
                for k in 0 ..< 3 {
                    var sum = 0, count = 0
                    for sy in 2 * y ..< min(image.height, 2 * y + 2) {
                        for sx in 2 * x ..< min(image.width, 2 * x + 2) {
                            sum += Int(image[sx, sy, k])
                            count += 1
                        }
                    }
                    out[(y * width + x) * 3 + k] = UInt8((sum + count / 2) / max(1, count))
                }
            }
        }
        return Image8(width: width, height: height, channels: 3, pixels: out)
    }
}
