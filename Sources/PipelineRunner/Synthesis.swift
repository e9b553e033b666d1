// Synthesis.swift — `datasets[i].synthesize`: a dataset that the run
// generates with the street-scene generator when its root does not exist
// (the demo manifest, tests). An existing root is never touched.

import Datasets
import Foundation
import ImageIO
import ManifestSchema
import RunFolder

enum Synthesis {
    /// Generates `entry`'s dataset when it asks for synthesis and its root is missing.
    static func ensure(_ entry: Manifest.DatasetEntry, quiet: Bool) throws {
        guard let spec = entry.synthesize, !FileManager.default.fileExists(atPath: entry.root) else { return }
        // Generated next to the root and renamed into place, so an interrupted
        // generation never leaves a half-filled root behind.
        let staging = entry.root + ".synth-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        var options = SynthOptions(dataset: entry.kind, root: staging)
        options.count = spec.count
        options.seed = UInt64(spec.seed)
        options.size = ImageSize(width: spec.width, height: spec.height)
        options.split = entry.split
        if entry.kind == .acdc, let condition = entry.condition, let one = ACDCCondition(rawValue: condition) {
            options.conditions = [one]
        }
        if !quiet {
            FileHandle.standardError.write(Data("ctpipe: \(entry.root) is missing; synthesizing \(spec.count) \(entry.kind.rawValue) images (seed \(spec.seed))\n".utf8))
        }
        do {
            _ = try SyntheticDataset.write(options)
            try FileManager.default.moveItem(atPath: staging, toPath: entry.root)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw RunError("dataset \(entry.name): cannot synthesize into \(entry.root): \(error)")
        }
    }
}
