// FuzzWorkspace.swift — the folder a fuzzing process writes its inputs into:
// one file per file-based reader, rewritten for every input, and a small
// synthetic dataset tree of each kind whose label file the labels target replaces.

import CTCore
import Datasets
import Foundation
import ImageIO

/// One kind's synthetic tree: its reader, the label file the labels target replaces, and that file's
/// bytes as synthesised (the kind's own label encoding: a seed).
struct LabelTree: Sendable {
    let reader: any DatasetReader
    let labelPath: String
    let original: [UInt8]
}

/// A private temporary folder, made once per process (the trees take a moment to synthesise).
public final class FuzzWorkspace: Sendable {
    public let folder: String
    /// The synthetic dataset trees, by kind.
    let trees: [DatasetKind: LabelTree]

    /// Makes the folder under `parent` (default: the system's temporary folder) and the five trees;
    /// copies the JSON files of `pipelines` (a folder) into its `pipelines/`, so that manifests
    /// naming `../pipelines/<file>` find them.
    public init(parent: String = NSTemporaryDirectory(), pipelines: String? = nil) throws {
        folder = (parent as NSString).appendingPathComponent("ctfuzz-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var trees: [DatasetKind: LabelTree] = [:]
        for kind in DatasetKind.allCases {
            var options = SynthOptions(dataset: kind, root: folder + "/data/" + kind.rawValue)
            options.count = 1
            options.size = ImageSize(width: 32, height: 16)
            options.conditions = [.fog]
            options.split = "val"
            _ = try SyntheticDataset.write(options)
            let reader = try DatasetReaders.make(kind: kind, root: options.root, split: kind == .gta5 ? nil : "val")
            guard let sample = reader.list().samples.first else {
                throw DatasetError("ctfuzz: the synthetic \(kind.rawValue) tree has no sample")
            }
            trees[kind] = LabelTree(reader: reader, labelPath: sample.labelPath, original: try FileBytes.read(sample.labelPath))
        }
        self.trees = trees
        try FileManager.default.createDirectory(atPath: folder + "/manifests", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
        if let pipelines {
            for name in try FileManager.default.contentsOfDirectory(atPath: pipelines) where name.hasSuffix(".json") {
                try FileManager.default.copyItem(atPath: pipelines + "/" + name, toPath: folder + "/pipelines/" + name)
            }
        }
    }

    /// Removes the folder.
    public func remove() { try? FileManager.default.removeItem(atPath: folder) }

    /// Writes `bytes` to `name` inside the workspace (replacing it) and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = folder + "/" + name
        replace(path, with: bytes)
        return path
    }

    /// Replaces the file at `path` with `bytes` (not atomically: the fuzzer is the only reader).
    func replace(_ path: String, with bytes: [UInt8]) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
}
