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
        guard let spec = entry.synthesize else { return }
        // Generated next to the root and renamed into place, so an interrupted
        // generation never leaves a half-filled root behind; what a killed one left is removed.
        removeAbandonedStaging(of: entry.root)
        guard !FileManager.default.fileExists(atPath: entry.root) else { return }
        let staging = entry.root + stagingSuffix + "\(getpid())"
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
        } catch where FileManager.default.fileExists(atPath: entry.root) {
            // Another run generated the same root meanwhile (the same bytes: they depend on the options only).
            try? FileManager.default.removeItem(atPath: staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw RunError("dataset \(entry.name): cannot synthesize into \(entry.root): \(error)")
        }
    }

    static let stagingSuffix = ".synth-"

    /// Removes the staging folders `<root>.synth-<pid>` that generations killed before their
    /// rename left behind: those of this process and of processes no longer running (a staging
    /// folder of a live process is another run's generation in progress and is kept).
    static func removeAbandonedStaging(of root: String) {
        let url = URL(fileURLWithPath: root)
        let parent = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + stagingSuffix
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid > 0 else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) {
                try? FileManager.default.removeItem(atPath: parent + "/" + name)
            }
        }
    }
}
