// TrainLog.swift — RUN_DIR/train_log.jsonl: one JSON line per iteration
// (`iteration` 1-based count of completed iterations, `loss` — with the
// Mask2Former head also `loss_cls`, `loss_mask`, `loss_dice` of its last
// prediction —, `lr`,
// `seconds_per_iteration`, `images_per_second`), appended as training goes.
// On resume the lines after the checkpoint's iteration are dropped (rewritten
// atomically), so the log of a resumed run reads like an uninterrupted one.
// The path comes from the run folder's containment check; appends never
// follow a link standing in for the file (O_NOFOLLOW).

import CTCore
import Foundation

struct TrainLogEntry: Sendable, Equatable {
    var iteration: Int
    var loss: Double, learningRate: Double
    /// Throughput of the iteration.
    var secondsPerIteration: Double, imagesPerSecond: Double
    /// The loss's components (the Mask2Former head: the last prediction's loss_cls, loss_mask, loss_dice).
    var parts: [(String, Double)] = []

    static func == (a: Self, b: Self) -> Bool {
        a.iteration == b.iteration && a.loss == b.loss && a.learningRate == b.learningRate
            && a.secondsPerIteration == b.secondsPerIteration && a.imagesPerSecond == b.imagesPerSecond
            && a.parts.map(\.0) == b.parts.map(\.0) && a.parts.map(\.1) == b.parts.map(\.1)
    }

    var line: String {
        let extra = parts.map { ",\"\($0.0)\":\($0.1)" }.joined()
        return "{\"iteration\":\(iteration),\"loss\":\(loss)\(extra),\"lr\":\(learningRate),\"seconds_per_iteration\":\(Self.short(secondsPerIteration)),\"images_per_second\":\(Self.short(imagesPerSecond))}\n"
    }

    static func short(_ x: Double) -> String { String(format: "%.4f", x) }
}

struct TrainLog {
    let path: String

    /// (iteration, loss) of every line (unparseable lines are skipped).
    func losses() -> [(iteration: Int, loss: Double)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var out: [(Int, Double)] = []
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = object["iteration"] as? Int, let loss = (object["loss"] as? NSNumber)?.doubleValue else { continue }
            out.append((it, loss))
        }
        return out
    }

    /// Keeps only the lines up to `iteration` (inclusive).
    func truncate(after iteration: Int) throws(FileError) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        var kept = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let it = object["iteration"] as? Int, it <= iteration else { continue }
            kept += line + "\n"
        }
        try AtomicFile.write(text: kept, to: path)
    }

    func append(_ entry: TrainLogEntry) throws(FileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw FileError(path: path, reason: "cannot open for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(entry.line.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw FileError(path: path, reason: "short write") }
    }
}
