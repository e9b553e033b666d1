// MapillaryReader.swift — Mapillary Vistas. Raw: `{training,validation}/images/{key}.jpg`
// with `{split}/v1.2/labels/{key}.png` palette indices, mapped to trainIds by
// reading the dataset's own `config_v1.2.json` (or v2.0) with the Rein name rule;
// older flat v1.x packages (`{split}/labels`, `config.json`) are read too.
// Converted: `cityscapes_trainIdLabel/{train,val}/label/{key}.png` (trainIds);
// half: `half/val_img/{key}.jpg` + `half/val_label/{key}.png` (validation only).

import ImageIO

public struct MapillaryReader: DatasetReader {
    public let dataset = DatasetKind.mapillary
    public let root: String
    /// Folder name: training, validation or testing.
    public let splitFolder: String
    public let layout: DatasetLayout
    /// Annotation version for the raw layout: "v1.2" or "v2.0".
    public let version: String

    /// `split` accepts train/val/test or the folder names training/validation/testing.
    public init(root: String, split: String = "train", layout: DatasetLayout = .auto,
                version: String = "v1.2") throws(DatasetError) {
        try Pairing.checkRoot(root, .mapillary)
        let folder: String
        switch split {
        case "train", "training": folder = "training"
        case "val", "validation": folder = "validation"
        case "test", "testing": folder = "testing"
        default: throw DatasetError("mapillary: unknown split '\(split)' (use train, val or test)")
        }
        guard version == "v1.2" || version == "v2.0" else {
            throw DatasetError("mapillary: unknown annotation version '\(version)' (use v1.2 or v2.0)")
        }
        if layout == .half, folder != "validation" {
            throw DatasetError("mapillary: the 'half' layout exists for the validation split only")
        }
        self.root = root
        self.splitFolder = folder
        self.layout = layout
        self.version = version
    }

    /// `train` or `val`, as the converted folders name the split.
    var shortSplit: String { splitFolder == "training" ? "train" : splitFolder == "validation" ? "val" : "test" }

    public func list() -> DatasetListing {
        let convertedDir = FileTree.join(root, "cityscapes_trainIdLabel", shortSplit, "label")
        let halfDir = FileTree.join(root, "half", "val_label")
        let resolved: DatasetLayout
        switch layout {
        case .auto:
            if splitFolder == "validation", Pairing.contains(FileTree.files(under: halfDir), suffix: ".png") {
                resolved = .half
            } else if Pairing.contains(FileTree.files(under: convertedDir), suffix: ".png") {
                resolved = .converted
            } else {
                resolved = .raw
            }
        default: resolved = layout
        }
        let fullImageDir = FileTree.join(root, splitFolder, "images")
        var problems: [DatasetProblem] = []
        var spec = PairSpec(dataset: .mapillary, imageDir: fullImageDir, imageSuffix: ".jpg",
                            labelDir: convertedDir, labelSuffix: ".png", encoding: .trainIds)
        switch resolved {
        case .half:
            spec.imageDir = FileTree.join(root, "half", "val_img")
            spec.labelDir = halfDir
        case .raw:
            var labelDir = FileTree.join(root, splitFolder, version, "labels")
            var configPath = FileTree.join(root, "config_\(version).json")
            let flatDir = FileTree.join(root, splitFolder, "labels")
            let flatConfig = FileTree.join(root, "config.json")
            if version == "v1.2", !FileTree.isDirectory(labelDir), FileTree.isDirectory(flatDir),
               [.regularFile, .other].contains(FileTree.kind(flatConfig)) {   // a FIFO there is refused by name when read
                labelDir = flatDir
                configPath = flatConfig
            }
            spec.labelDir = labelDir
            do {
                let config = try MapillaryConfig.read(configPath)
                spec.encoding = .mapillary(version: version, trainIds: config.trainIds)
            } catch {
                return DatasetListing(dataset: .mapillary, root: root, split: splitFolder, layout: resolved,
                                      samples: [], problems: [error])
            }
        default: break
        }
        let paired = Pairing.pair(spec)
        problems += paired.problems
        // Original (full-resolution) size from the JPEG header, read in parallel.
        let found = paired.samples
        let sizes = Parallel.map(found.count) { i -> ImageSize? in
            let path = FileTree.join(fullImageDir, found[i].id + ".jpg")
            guard FileTree.isFile(path), case .success(let size) = ImageHeader.size(path) else { return nil }
            return size
        }
        let samples = zip(found, sizes).map { sample, size in
            Sample(id: sample.id, imagePath: sample.imagePath, labelPath: sample.labelPath, dataset: .mapillary,
                   encoding: sample.encoding, metadata: SampleMetadata(originalSize: size))
        }
        return DatasetListing(dataset: .mapillary, root: root, split: splitFolder, layout: resolved,
                              samples: samples, problems: problems)
    }
}
