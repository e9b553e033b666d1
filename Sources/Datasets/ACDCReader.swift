// ACDCReader.swift — ACDC: `rgb_anon/{cond}/{split}/{seq}/*_rgb_anon.png` with
// `gt/{cond}/{split}/{seq}/*_gt_labelIds.png` (raw, Cityscapes labelIds) or
// `*_gt_labelTrainIds.png` (converted; shipped in the archive). The `{split}_ref`
// reference folders are siblings and are never read.

public struct ACDCReader: DatasetReader {
    public let dataset = DatasetKind.acdc
    public let root: String
    public let split: String
    public let conditions: [ACDCCondition]
    public let layout: DatasetLayout

    public static let imageSuffix = "_rgb_anon.png"
    public static let rawLabelSuffix = "_gt_labelIds.png"
    public static let convertedLabelSuffix = "_gt_labelTrainIds.png"

    /// `conditions` defaults to all four, listed in the order fog, night, rain, snow.
    public init(root: String, split: String = "train", conditions: [ACDCCondition] = ACDCCondition.allCases,
                layout: DatasetLayout = .auto) throws(DatasetError) {
        try Pairing.checkOptions(.acdc, root: root, split: split, layout: layout)
        guard !conditions.isEmpty else { throw DatasetError("acdc: no condition selected") }
        self.root = root
        self.split = split
        self.conditions = ACDCCondition.allCases.filter(conditions.contains)
        self.layout = layout
    }

    /// Lists every selected condition; with `.auto` each condition picks its layout
    /// on its own, and the listing reports `.converted` only when all did.
    public func list() -> DatasetListing {
        var samples: [Sample] = []
        var problems: [DatasetProblem] = []
        var layouts: Set<DatasetLayout> = []
        for condition in conditions {
            let labelDir = FileTree.join(root, "gt", condition.rawValue, split)
            let labels = FileTree.list(under: labelDir)
            let resolved = Pairing.resolve(layout, labels: labels?.files, convertedSuffix: Self.convertedLabelSuffix)
            layouts.insert(resolved)
            let converted = resolved == .converted
            let spec = PairSpec(
                dataset: .acdc, imageDir: FileTree.join(root, "rgb_anon", condition.rawValue, split),
                imageSuffix: Self.imageSuffix, labelDir: labelDir,
                labelSuffix: converted ? Self.convertedLabelSuffix : Self.rawLabelSuffix,
                encoding: converted ? .trainIds : .cityscapesLabelIds, idPrefix: condition.rawValue + "/",
                metadata: { relative in
                    let parts = relative.split(separator: "/")
                    return SampleMetadata(condition: condition, sequence: parts.count > 1 ? String(parts[0]) : nil)
                })
            let found = Pairing.pair(spec, labelFiles: .some(labels))
            samples += found.samples
            problems += found.problems
        }
        return DatasetListing(dataset: .acdc, root: root, split: split,
                              layout: layouts == [.converted] ? .converted : .raw,
                              samples: samples, problems: problems)
    }
}
