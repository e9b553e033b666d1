// DatasetReaders.swift — one entry point that builds the right reader from the
// options a command line gives (kind, root, split, condition, layout).

public enum DatasetReaders {
    /// Builds a reader. `split` nil means the dataset's default (train; GTA5 has
    /// none and accepts only nil or "all"); `condition` is ACDC-only (nil = all four);
    /// `mapillaryVersion` selects the Mapillary annotations of the raw layout (v1.2 or v2.0).
    public static func make(kind: DatasetKind, root: String, split: String? = nil, condition: ACDCCondition? = nil,
                            layout: DatasetLayout = .auto, mapillaryVersion: String? = nil) throws(DatasetError) -> any DatasetReader {
        if mapillaryVersion != nil, kind != .mapillary {
            throw DatasetError("--mapillary-version applies to mapillary only, not \(kind.rawValue)")
        }
        if condition != nil, kind != .acdc {
            throw DatasetError("--condition applies to acdc only, not \(kind.rawValue)")
        }
        switch kind {
        case .cityscapes:
            return try CityscapesReader(root: root, split: split ?? "train", layout: layout)
        case .gta5:
            if let split, split != "all" {
                throw DatasetError("gta5 has no split folders (the DGSS code bases train on all images); omit --split or use 'all', got '\(split)'")
            }
            return try GTA5Reader(root: root, layout: layout)
        case .acdc:
            return try ACDCReader(root: root, split: split ?? "train",
                                  conditions: condition.map { [$0] } ?? ACDCCondition.allCases, layout: layout)
        case .bdd100k:
            return try BDD100KReader(root: root, split: split ?? "train", layout: layout)
        case .mapillary:
            return try MapillaryReader(root: root, split: split ?? "train", layout: layout, version: mapillaryVersion ?? "v1.2")
        }
    }
}
