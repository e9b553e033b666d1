// ManifestTarget.swift — manifest bytes through what `ctpipe validate` and `run`
// do before running: size and encoding, JSON, the schema, the stage rules and
// the files and dataset roots it names (resolved inside the workspace, whose
// `pipelines/` holds the project's pipelines and `data/` the synthetic trees).

import ManifestSchema

enum ManifestTarget {
    static func run(_ bytes: [UInt8], in workspace: FuzzWorkspace) -> [String] {
        let path = workspace.folder + "/manifests/input.json"
        return [step("manifest") { () throws(any Error) in
            let manifest = try ManifestLoader.load(bytes: bytes, as: path)
            return "\(manifest.name): \(manifest.datasets.count) datasets"
        }]
    }
}
