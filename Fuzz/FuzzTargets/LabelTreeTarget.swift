// LabelTreeTarget.swift — label PNGs where a user's dataset has them: the input's
// first byte picks the dataset kind, the rest replaces the label file of the one
// sample in that kind's synthetic tree; then the tree is listed, scanned (labels
// and images decoded, `inspect --scan`) and the sample loaded strictly (`metric`,
// evaluation), as ctpipe's commands do.

import Datasets
import ImageIO

/// The dataset kinds in the order the labels target's first byte selects them.
enum DatasetKindByte {
    static let kinds = DatasetKind.allCases
    static var count: Int { kinds.count }
}

enum LabelTreeTarget {
    static func run(_ bytes: [UInt8], in workspace: FuzzWorkspace) -> [String] {
        guard let first = bytes.first else { return ["labels: empty input"] }
        let kind = DatasetKindByte.kinds[Int(first) % DatasetKindByte.count]
        guard let tree = workspace.trees[kind] else { return ["labels: no \(kind.rawValue) tree"] }
        workspace.replace(tree.labelPath, with: Array(bytes.dropFirst()))
        let limits = FuzzTarget.limits
        let listing = tree.reader.list()
        let scan = DatasetScanner.scan(listing.samples, decodeImages: true, limits: limits)
        var lines = ["\(kind.rawValue) list: \(listing.samples.count) samples, \(listing.problems.count) problems",
                     "\(kind.rawValue) scan: \(scan.scannedSamples) scanned, \(scan.problems.map(\.message))"]
        for sample in listing.samples {
            lines.append(step("\(kind.rawValue) load") { () throws(DatasetProblem) in
                let (image, label) = try sample.load(sizePolicy: .resizeLabel, strict: true, limits: limits)
                return "\(image.width)x\(image.height), label \(label.width)x\(label.height)"
            })
        }
        return lines
    }

    /// Each kind's own label file, as the synthetic tree was made with it.
    static func seeds(in workspace: FuzzWorkspace) -> [[UInt8]] {
        DatasetKindByte.kinds.enumerated().compactMap { index, kind in
            workspace.trees[kind].map { [UInt8(index)] + $0.original }
        }
    }
}
