// main.swift — `ctbench FAMILY ARGS...`: release-build benchmarks, one file per
// family, each printing JSON on stdout for a script to compare with reference
// libraries. Build and run with `swift run -c release ctbench FAMILY ...`.
//
//   swift run -c release ctbench backbone [--threads N] [--runs R] [--json]
//   swift run -c release ctbench segmentation [--threads N] [--runs R] [--model vits|vitl] [--variants LIST] [--no-slide] [--json]
//   swift run -c release ctbench adapter-phases [--model vits|vitl] [--threads N] [--runs R]
//   swift run -c release ctbench mask2former [--model vits|vitl] [--threads N] [--runs R] [--size S] [--json]
//   swift run -c release ctbench training [--model vits|vitl] [--batch B] [--threads N] [--runs R] [--json]
//   swift run -c release ctbench mask2former-training [--model vits|vitl] [--threads N] [--runs R] [--checkpointing] [--json]
//   swift run -c release ctbench evalpath [--images N] [--rounds R] [--fsync each|none]
//   swift run -c release ctbench runner-infer [--images N] [--rounds R] [--workers 1,2] [--threads N] [--root DIR]
//   swift run -c release ctbench runner-infer --write-checkpoint PATH
//   swift run -c release ctbench gemm [--threads N] [--runs R] [--json]
//   swift run -c release ctbench resize [--threads N] [--runs R]

import Foundation

let families: [String: ([String]) throws -> Void] = [
    "imageio": ImageIOBench.run,
    "evalpath": EvalPathBench.run,
    "backbone": BackboneBench.run,
    "backbone-phases": BackbonePhases.run,
    "adapter-phases": AdapterPhases.run,
    "segmentation": SegmentationBench.run,
    "mask2former": Mask2FormerBench.run,
    "training": TrainingBench.run,
    "mask2former-training": Mask2FormerTrainingBench.run,
    "runner-infer": RunnerInferBench.run,
    "gemm": GEMMBench.run,
    "resize": ResizeBench.run,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let family = families[name] else {
    FileHandle.standardError.write(Data("usage: ctbench \(families.keys.sorted().joined(separator: "|")) ARGS...\n".utf8))
    exit(arguments.isEmpty ? 0 : 2)
}
do {
    try family(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("ctbench \(name): \(error)\n".utf8))
    exit(1)
}
