// SyntheticFrames.swift — the synthetic Cityscapes val frames (2048 x 1024,
// seed 7) that the runner-level benchmarks (evalpath, runner-infer) read,
// written once under the benchmark's root and reused by later invocations.

import Datasets
import Foundation
import ImageIO

enum SyntheticFrames {
    /// Makes `root` hold synthetic Cityscapes val frames: at least `count` of them,
    /// or with `exactly`, `count` and no more (a folder with another count is removed and written anew).
    static func cityscapes(at root: String, count: Int, exactly: Bool) throws {
        let existing = (try? CityscapesReader(root: root, split: "val", layout: .raw))?.list().samples.count ?? 0
        if exactly ? existing == count : existing >= count { return }
        if exactly { try? FileManager.default.removeItem(atPath: root) }
        var options = SynthOptions(dataset: .cityscapes, root: root)
        options.count = count
        options.split = "val"
        options.size = ImageSize(width: 2048, height: 1024)
        options.seed = 7
        _ = try SyntheticDataset.write(options)
    }
}
