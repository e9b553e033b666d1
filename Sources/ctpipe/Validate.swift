// Validate.swift — `ctpipe validate MANIFEST`: every check that needs no run.

import ArgumentParser
import ManifestSchema

extension CTPipe {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a manifest (schema, unknown keys, types, ranges, stages, files, dataset roots, crops against the patch size) without running it.",
            discussion: """
            Each problem is printed on stderr with its JSON path, e.g.
              $.datasets[1].root: folder not found: data/bdd100k (...)
              $.model.crop: 500 is not a multiple of the patch size 16 of the backbone tiny; use a crop such as 496 or 512
            The patch size is read from the weights or checkpoint file's header (no tensor is loaded), else \
            taken from the named backbone when the pipeline trains it from scratch.
            Exit status 0 when the manifest is valid, 65 when it has problems, 66 when it cannot be read.
            """
        )

        @Argument(help: "The manifest (JSON).")
        var manifest: String

        func run() throws {
            let loaded = try ManifestCommand.load(manifest)
            let seeds = loaded.seeds.map { ", one run per seed (\($0.map(String.init).joined(separator: ", ")))" } ?? ""
            let averages = loaded.averages.isEmpty ? "" : ", averages \(loaded.averages.map(\.name).joined(separator: ", "))"
            print("\(manifest): valid — pipeline \(loaded.pipeline.name) (\(loaded.pipeline.stages.map(\.rawValue).joined(separator: " -> "))), "
                + "\(loaded.datasets.count) dataset\(loaded.datasets.count == 1 ? "" : "s")\(averages)\(seeds), configuration \(loaded.configurationHash.prefix(12))")
        }
    }
}

/// Loading a manifest from the CLI, with exit codes that scripts can tell apart.
enum ManifestCommand {
    static func load(_ path: String) throws -> Manifest {
        try withExitCodes { try ManifestLoader.load(path) }
    }

    /// The embedded demo manifest (manifests/demo.json).
    static func loadDemo() throws -> Manifest {
        try withExitCodes { try DemoManifest.load() }
    }

    /// Runs `load`; on failure prints the error and exits with 65 for an invalid
    /// manifest, 66 for anything else (an unreadable file).
    private static func withExitCodes(_ load: () throws -> Manifest) throws -> Manifest {
        do {
            return try load()
        } catch let error as ManifestError {
            printError(error.description)
            throw ExitCode(65)
        } catch {
            printError("\(error)")
            throw ExitCode(66)
        }
    }
}
