// SweepFolder.swift — the folder of a seed sweep (a manifest with `seeds`):
//
//   <outputs.dir>/<name>/seeds-<yyyyMMdd-HHmmss>/   (UTC; suffixed when taken)
//     summary.json     the sweep: its seeds, each seed's run folder and status, and per set and
//                      average each seed's mIoU, the mean and the sample standard deviation;
//                      written when the sweep starts and after every seed (the resume record)
//     report.html      the same as a table, with links to the seed runs' reports
//     events.jsonl     sweep_start, seed_start, seed_finish, seed_failed, sweep_finish, ...
//     seed-<s>/        an ordinary run folder (RunDirectory) of the manifest with "seed": s
//
// The sweep folder sits next to the manifest's single-run folders, so `ctpipe run --resume`
// of a manifest without seeds never mistakes it for a run (it holds no manifest.json).

import CTCore
import Foundation

public struct SweepFolder: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The prefix of sweep folder names.
    public static let prefix = "seeds-"
    /// The sweep's record and results.
    public static let summaryName = "summary.json"

    public var summaryFile: String { path + "/" + Self.summaryName }
    public var reportFile: String { path + "/report.html" }
    /// The run folder of one seed.
    public func runFolder(seed: Int) -> String { "\(path)/seed-\(seed)" }

    /// A new sweep folder `<root>/<name>/seeds-<yyyyMMdd-HHmmss>` (suffixed `-2`, `-3`, ... when taken).
    public static func create(root: String, name: String, now: Date = Date()) throws(FileError) -> SweepFolder {
        let candidate = try RunDirectory.claimFolder(in: "\(root)/\(name)", named: prefix + RunDirectory.timestamp(now),
                                                     what: "the seed sweep folder")
        return SweepFolder(path: candidate)
    }

    /// The most recent sweep folder of `name` whose summary.json has `configurationHash`.
    public static func latest(root: String, name: String, configurationHash: String) -> SweepFolder? {
        let folder = "\(root)/\(name)"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        for entry in entries.sorted(by: >) where entry.hasPrefix(prefix) {
            let candidate = SweepFolder(path: "\(folder)/\(entry)")
            guard let bytes = try? FileBytes.read(candidate.summaryFile),
                  let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                  object["configuration_hash"] as? String == configurationHash else { continue }
            return candidate
        }
        return nil
    }

    /// Whether `runFolder` is a seed run of a sweep (its parent holds the sweep's summary.json).
    public static func holds(runFolder: String) -> Bool {
        let parent = URL(fileURLWithPath: runFolder).deletingLastPathComponent()
        return parent.lastPathComponent.hasPrefix(prefix)
            && FileManager.default.fileExists(atPath: parent.appendingPathComponent(summaryName).path)
    }
}
