// BDD100KReader.swift — BDD100K 10K semantic segmentation: `images/10k/{split}/{stem}.jpg`
// with `labels/sem_seg/masks/{split}/{stem}.png`, one-channel trainId masks.
// The download is already in the layout the DGSS configs read, so `raw` and
// `converted` are the same files.

public struct BDD100KReader: DatasetReader {
    public let dataset = DatasetKind.bdd100k
    public let root: String
    public let split: String

    /// `root` is the `bdd100k/` folder the archives unpack into.
    public init(root: String, split: String = "train", layout: DatasetLayout = .auto) throws(DatasetError) {
        try Pairing.checkOptions(.bdd100k, root: root, split: split, layout: layout)
        self.root = root
        self.split = split
    }

    public func list() -> DatasetListing {
        let spec = PairSpec(
            dataset: .bdd100k, imageDir: FileTree.join(root, "images", "10k", split), imageSuffix: ".jpg",
            labelDir: FileTree.join(root, "labels", "sem_seg", "masks", split), labelSuffix: ".png",
            encoding: .trainIds)
        let (samples, problems) = Pairing.pair(spec)
        return DatasetListing(dataset: .bdd100k, root: root, split: split, layout: .raw,
                              samples: samples, problems: problems)
    }
}
