// DatasetProblem.swift — what can be wrong with a dataset's files. Readers and
// scans return these as values; the caller decides whether to fail or to skip
// the file and record it.

/// One problem with one file (or folder) of a dataset. Made by the readers only.
public struct DatasetProblem: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// An image whose label file does not exist.
        case imageWithoutLabel = "image_without_label"
        /// A label file whose image does not exist.
        case labelWithoutImage = "label_without_image"
        /// A file that cannot be read or decoded.
        case unreadableFile = "unreadable_file"
        /// Image and label differ in width or height (GTA5 has such pairs).
        case sizeMismatch = "size_mismatch"
        /// A label holds raw values its encoding does not define.
        case unknownLabelValues = "unknown_label_values"
        /// A folder the layout needs is absent (e.g. a split without labels).
        case missingFolder = "missing_folder"
        /// A dataset configuration file (Mapillary `config_v1.2.json`) is missing or malformed.
        case badConfig = "bad_config"
    }

    /// The file or folder concerned (as a path under the dataset root, joined with the root).
    public let file: String
    public let kind: Kind
    /// What is wrong, in words (does not repeat the path).
    public let message: String

    /// `path: message`.
    public var description: String { "\(file): \(message)" }
}
