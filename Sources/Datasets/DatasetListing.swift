// DatasetListing.swift — the reader protocol, its result, and the pairing rule
// all readers share (MMSegmentation's: every file under the image folder whose
// name ends with the image suffix; the label is the same relative path with the
// suffix swapped, under the label folder; sorted by image path). Only regular
// files pair; a FIFO, socket or device named like one is a problem naming it.

import CTCore

/// Lists a dataset split's image/label pairs.
public protocol DatasetReader: Sendable {
    var dataset: DatasetKind { get }
    var root: String { get }
    /// Samples in deterministic (byte-sorted path) order, and the problems found
    /// while pairing files. Never throws: every problem is reported.
    func list() -> DatasetListing
}

/// The result of listing one split (for ACDC: one or all four conditions). Made by the readers.
public struct DatasetListing: Sendable {
    public let dataset: DatasetKind
    public let root: String
    public let split: String
    /// The layout used (never `.auto`).
    public let layout: DatasetLayout
    public var samples: [Sample]
    public var problems: [DatasetProblem]
}

/// Where one split's images and labels are, and how to name and describe samples.
struct PairSpec: Sendable {
    var dataset: DatasetKind
    var imageDir: String, imageSuffix: String
    var labelDir: String, labelSuffix: String
    /// Files in the label folder ending with `labelSuffix` that belong to another
    /// layout (GTA5 raw: `_labelTrainIds.png`), ignored for orphan detection.
    var excludedLabelSuffixes: [String] = []
    var encoding: LabelEncoding
    /// Prepended to the sample id (ACDC: `fog/`).
    var idPrefix: String = ""
    /// Metadata from the image path relative to `imageDir`.
    var metadata: @Sendable (String) -> SampleMetadata = { _ in SampleMetadata() }
}

enum Pairing {
    /// Pairs images and labels under `spec`. `labelFiles` may be passed when the
    /// caller already listed the label folder (layout detection). A FIFO, socket or
    /// device named like an image or a label is reported (`unreadable_file`, naming
    /// it) and never made a sample; its counterpart is not reported as unpaired.
    static func pair(_ spec: PairSpec, labelFiles known: FileTree.Listing?? = nil) -> (samples: [Sample], problems: [DatasetProblem]) {
        guard let images = FileTree.list(under: spec.imageDir) else {
            return ([], [DatasetProblem(file: spec.imageDir, kind: .missingFolder, message: "image folder not found")])
        }
        guard let labels = known ?? FileTree.list(under: spec.labelDir) else {
            return ([], [DatasetProblem(file: spec.labelDir, kind: .missingFolder,
                                        message: "label folder not found (no labels for this split, or a different layout)")])
        }
        func isLabel(_ relative: String) -> Bool {
            relative.hasSuffix(spec.labelSuffix) && !spec.excludedLabelSuffixes.contains(where: { relative.hasSuffix($0) })
        }
        func notRegular(_ path: String) -> DatasetProblem {
            DatasetProblem(file: path, kind: .unreadableFile, message: RegularFile.notRegularReason)
        }
        var samples: [Sample] = []
        var problems: [DatasetProblem] = []
        let otherImages = images.others.filter { $0.hasSuffix(spec.imageSuffix) }
        let otherLabels = labels.others.filter(isLabel)
        problems += otherImages.map { notRegular(spec.imageDir + "/" + $0) }
        problems += otherLabels.map { notRegular(spec.labelDir + "/" + $0) }
        let labelSet = Set(labels.files), otherLabelSet = Set(otherLabels)
        var imageStems = Set(otherImages.map { String($0.dropLast(spec.imageSuffix.count)) })
        for relative in images.files where relative.hasSuffix(spec.imageSuffix) {
            let stem = String(relative.dropLast(spec.imageSuffix.count))
            imageStems.insert(stem)
            let labelRelative = stem + spec.labelSuffix
            let imagePath = spec.imageDir + "/" + relative
            let labelPath = spec.labelDir + "/" + labelRelative
            guard labelSet.contains(labelRelative) else {
                if !otherLabelSet.contains(labelRelative) {
                    problems.append(DatasetProblem(file: imagePath, kind: .imageWithoutLabel,
                                                   message: "image has no label file (expected \(labelPath))"))
                }
                continue
            }
            samples.append(Sample(id: spec.idPrefix + stem, imagePath: imagePath, labelPath: labelPath,
                                  dataset: spec.dataset, encoding: spec.encoding, metadata: spec.metadata(relative)))
        }
        for relative in labels.files where isLabel(relative) {
            let stem = String(relative.dropLast(spec.labelSuffix.count))
            if !imageStems.contains(stem) {
                problems.append(DatasetProblem(file: spec.labelDir + "/" + relative, kind: .labelWithoutImage,
                                               message: "label file has no image (expected \(spec.imageDir)/\(stem)\(spec.imageSuffix))"))
            }
        }
        return (samples, problems)
    }

    /// Whether any listed file ends with `suffix` (layout detection).
    static func contains(_ files: [String]?, suffix: String) -> Bool {
        files?.contains { $0.hasSuffix(suffix) } ?? false
    }

    /// The layout a reader pairs with: `layout`, or for `.auto` the converted one when
    /// any listed label file ends with `convertedSuffix`, else the raw download.
    static func resolve(_ layout: DatasetLayout, labels: [String]?, convertedSuffix: String) -> DatasetLayout {
        guard layout == .auto else { return layout }
        return contains(labels, suffix: convertedSuffix) ? .converted : .raw
    }

    /// Checks the options of a reader without Mapillary's half-size copies: the root,
    /// the split (for datasets with split folders), and a layout other than `.half`.
    static func checkOptions(_ dataset: DatasetKind, root: String, split: String?, layout: DatasetLayout) throws(DatasetError) {
        try checkRoot(root, dataset)
        if let split { try checkSplit(split, dataset) }
        guard layout != .half else { throw DatasetError("\(dataset.rawValue) has no 'half' layout (Mapillary validation only)") }
    }

    /// Checks that a dataset root is an existing folder.
    static func checkRoot(_ root: String, _ dataset: DatasetKind) throws(DatasetError) {
        guard FileTree.isDirectory(root) else {
            throw DatasetError("\(dataset.rawValue) root \(root) is not an existing folder")
        }
    }

    /// Checks a split name is one folder name.
    static func checkSplit(_ split: String, _ dataset: DatasetKind) throws(DatasetError) {
        guard !split.isEmpty, !split.contains("/"), split != ".", split != ".." else {
            throw DatasetError("\(dataset.rawValue): invalid split name '\(split)'")
        }
    }
}
