// main.swift — `ctbench`: release-mode benchmarks (not tests). One subcommand per
// benchmark; `ctbench` alone lists them.
//
//   swift run -c release ctbench backbone [--threads N] [--runs R] [--json]
//   swift run -c release ctbench backbone-phases [--threads N]

import Foundation

let benchmarks: [String: ([String]) throws -> Void] = [
    "backbone": BackboneBench.run,
    "backbone-phases": BackbonePhases.run,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let bench = benchmarks[name] else {
    print("usage: ctbench <benchmark> [options]\nbenchmarks: \(benchmarks.keys.sorted().joined(separator: ", "))")
    exit(arguments.isEmpty ? 0 : 64)
}
do { try bench(Array(arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("ctbench \(name): \(error)\n".utf8))
    exit(1)
}
