// GTA5Reader.swift — GTA5 (Playing for Data): `images/{id:05d}.png` with
// `labels/{id:05d}.png` (raw: palette PNG whose index is the Cityscapes labelId)
// or `labels/{id:05d}_labelTrainIds.png` (converted). There are no split
// folders; the DGSS code bases train on every image.

public struct GTA5Reader: DatasetReader {
    public let dataset = DatasetKind.gta5
    public let root: String
    public let layout: DatasetLayout

    public static let convertedLabelSuffix = "_labelTrainIds.png"

    public init(root: String, layout: DatasetLayout = .auto) throws(DatasetError) {
        try Pairing.checkOptions(.gta5, root: root, split: nil, layout: layout)
        self.root = root
        self.layout = layout
    }

    public func list() -> DatasetListing {
        let labelDir = FileTree.join(root, "labels")
        let labels = FileTree.list(under: labelDir)
        let resolved = Pairing.resolve(layout, labels: labels?.files, convertedSuffix: Self.convertedLabelSuffix)
        let converted = resolved == .converted
        let spec = PairSpec(
            dataset: .gta5, imageDir: FileTree.join(root, "images"), imageSuffix: ".png",
            labelDir: labelDir, labelSuffix: converted ? Self.convertedLabelSuffix : ".png",
            excludedLabelSuffixes: converted ? [] : [Self.convertedLabelSuffix],
            encoding: converted ? .trainIds : .gta5LabelIds)
        let (samples, problems) = Pairing.pair(spec, labelFiles: .some(labels))
        return DatasetListing(dataset: .gta5, root: root, split: "all", layout: resolved,
                              samples: samples, problems: problems)
    }
}
