// DatasetKind.swift — the five supported datasets, ACDC's conditions, the
// on-disk layout choice, and configuration errors (bad options, missing root).

/// The datasets ctpipe reads and synthesizes.
public enum DatasetKind: String, Sendable, Codable, CaseIterable {
    case cityscapes, gta5, acdc, bdd100k, mapillary
}

/// ACDC's four adverse conditions (folder names under `rgb_anon/` and `gt/`).
public enum ACDCCondition: String, Sendable, Codable, CaseIterable {
    case fog, night, rain, snow
}

/// Which label files a reader pairs with the images.
public enum DatasetLayout: String, Sendable, Codable, CaseIterable {
    /// Converted trainId files when the split has any, else the raw download.
    case auto
    /// The official download: Cityscapes/ACDC `*_labelIds.png`, GTA5 palette
    /// labels, BDD100K masks, Mapillary `{split}/v1.2/labels` palette indices.
    case raw
    /// The trees the DGSS conversion scripts write: `*_labelTrainIds.png`,
    /// Mapillary `cityscapes_trainIdLabel/{train,val}/label` (full size).
    case converted
    /// Mapillary validation only: `half/val_img` + `half/val_label`
    /// (the half-size copies the DGSS configs evaluate on).
    case half
}

/// A reader cannot be set up: unknown split or condition, an option the
/// dataset does not have, or a root folder that does not exist.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
