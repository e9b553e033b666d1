// CityscapesReader.swift — Cityscapes gtFine: `leftImg8bit/{split}/{city}/*_leftImg8bit.png`
// with `gtFine/{split}/{city}/*_gtFine_labelIds.png` (raw, mapped through the
// Cityscapes id->trainId table) or `*_gtFine_labelTrainIds.png` (converted).

public struct CityscapesReader: DatasetReader {
    public let dataset = DatasetKind.cityscapes
    public let root: String
    public let split: String
    public let layout: DatasetLayout

    public static let imageSuffix = "_leftImg8bit.png"
    public static let rawLabelSuffix = "_gtFine_labelIds.png"
    public static let convertedLabelSuffix = "_gtFine_labelTrainIds.png"

    /// `split` is a folder under `leftImg8bit/` (train, val, test). `.half` is not a Cityscapes layout.
    public init(root: String, split: String = "train", layout: DatasetLayout = .auto) throws(DatasetError) {
        try Pairing.checkOptions(.cityscapes, root: root, split: split, layout: layout)
        self.root = root
        self.split = split
        self.layout = layout
    }

    public func list() -> DatasetListing {
        let labelDir = FileTree.join(root, "gtFine", split)
        let labels = FileTree.list(under: labelDir)
        let resolved = Pairing.resolve(layout, labels: labels?.files, convertedSuffix: Self.convertedLabelSuffix)
        let converted = resolved == .converted
        let spec = PairSpec(
            dataset: .cityscapes, imageDir: FileTree.join(root, "leftImg8bit", split), imageSuffix: Self.imageSuffix,
            labelDir: labelDir, labelSuffix: converted ? Self.convertedLabelSuffix : Self.rawLabelSuffix,
            encoding: converted ? .trainIds : .cityscapesLabelIds,
            metadata: { relative in
                let parts = relative.split(separator: "/")
                return SampleMetadata(city: parts.count > 1 ? String(parts[0]) : nil)
            })
        let (samples, problems) = Pairing.pair(spec, labelFiles: .some(labels))
        return DatasetListing(dataset: .cityscapes, root: root, split: split, layout: resolved,
                              samples: samples, problems: problems)
    }
}
