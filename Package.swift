// swift-tools-version: 6.0
// ctpipe — batch semantic segmentation of driving scenes with Causal-Tune on DINOv2.
//
// One target per stage family; numerics never import image codecs, the CLI stays thin.
// C libraries come from Debian (scripts/setup.sh installs them) and are found via pkg-config.
import Foundation
import PackageDescription

// The CPU level the Swift code is compiled for (README, "CPU level"). On x86-64 the default is
// `haswell`: AVX2 and FMA, which the hand-vectorised kernels (softmax, GELU, LayerNorm, exp, the
// adapter's element-wise passes) run twice as wide with as with the x86-64 baseline's SSE2. Every
// x86-64 server CPU since 2013-2015 has it (Intel Haswell, AMD Zen); CPUSupport refuses to start on
// one that lacks it, with a message. CTPIPE_TARGET_CPU=<LLVM CPU name> at build time chooses
// another level; CTPIPE_TARGET_CPU=x86-64 builds for any x86-64 CPU. Swift never fuses a multiply
// and an add into an FMA by itself, so the level changes speed, not results.
#if arch(x86_64)
let targetCPU = ProcessInfo.processInfo.environment["CTPIPE_TARGET_CPU"] ?? "haswell"
#else
let targetCPU = ProcessInfo.processInfo.environment["CTPIPE_TARGET_CPU"] ?? ""
#endif
let cpuSwiftSettings: [SwiftSetting] = targetCPU.isEmpty ? [] : [.unsafeFlags(["-target-cpu", targetCPU])]
let cpuRequirement: [CSetting] = targetCPU.isEmpty || targetCPU == "x86-64" ? [] : [.define("CT_REQUIRE_AVX2")]

let package = Package(
    name: "ctpipe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ctpipe", targets: ["ctpipe"]),
        .executable(name: "ctbench", targets: ["ctbench"]),
        .executable(name: "ctfuzz", targets: ["ctfuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System C libraries (module maps only).
        .systemLibrary(name: "CPNG", path: "Sources/System/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/System/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/System/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/System/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFTW", path: "Sources/System/CFFTW", pkgConfig: "fftw3f",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/System/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/System/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),

        // libpng/libjpeg calls under setjmp, returning a flag and a message.
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG", "CZlib"]),

        // The check, before any Swift code runs, that the CPU has the instructions the build was compiled for.
        .target(name: "CPUSupport", cSettings: cpuRequirement),

        // ctpipe's AVX-512 SGEMM (ct_sgemm.c), fused inference attention (ct_attention.c) and the matrix DCT's
        // small-left products (ct_small_left.c): AVX-512 only inside functions with a target attribute, so they
        // build for any CPU. Optimised in debug builds too: every GEMM of the tests runs through them.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // The helper threads of Threading.forEachWorker (ct_pool.c): awake between the parallel regions of a pass.
        .target(name: "CThreadPool", cSettings: [.unsafeFlags(["-O2"])]),

        // Files, NumPy arrays, atomic writes: shared by every stage.
        .target(name: "CTCore"),
        // Images and label maps: PNG/JPEG decode and encode, resize.
        .target(name: "ImageIO", dependencies: ["CImageCodecs", "CTCore"]),
        // Dataset readers (Cityscapes, GTA5, ACDC, BDD100K, Mapillary) and the synthetic scene generator.
        .target(name: "Datasets", dependencies: ["ImageIO", "CTCore"]),

        // Training crops and test resizes with MMSegmentation/mmcv semantics.
        .target(name: "Augment", dependencies: ["ImageIO", "CTCore"]),
        // Confusion matrices, IoU/mIoU/aAcc/mAcc, metrics.json.
        .target(name: "Metrics", dependencies: ["CTCore"]),

        // Float32 tensors and kernels: GEMM (ctpipe's AVX-512 kernel or OpenBLAS), LayerNorm, softmax, GELU,
        // bicubic resize, threads.
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CFFTW", "CKernels", "CPUSupport", "CThreadPool", "CTCore"]),
        // Networks and their weights: DINOv2 ViT, weight files (safetensors, PyTorch zip/pickle).
        .target(name: "Model", dependencies: ["Tensor", "CTCore", "CZlib"]),
        // Whole-image segmentation: normalisation, sliding windows, label maps.
        .target(name: "Inference", dependencies: ["Model", "Tensor", "ImageIO", "CTCore"]),
        // Training: backward passes, loss, AdamW, schedules, training state.
        .target(name: "Training", dependencies: ["Model", "Tensor", "CTCore"]),
        // The processes of a job (Open MPI when started by mpirun/srun, else one): rank, size, collectives.
        .target(name: "Distributed", dependencies: ["CMPI"]),

        // Evaluation and running. Dependencies point one way, each target using only those before it:
        //   LabelFiles <- ManifestSchema <- RunFolder <- RunReports <- PipelineRunner <- ctpipe, ctbench
        //   Evaluation (no manifest, no run folder) <- PipelineRunner, ctpipe (`infer`), ctbench
        // ManifestSchema uses Model only for the model section's types (AdapterConfig, PositionInterpolation),
        // and Augment only for `training.augment` (AugmentSettings).
        // Label files written from predictions (trainId, labelId, colour, overlay, CVAT) and their formats.
        .target(name: "LabelFiles", dependencies: ["CTCore", "ImageIO", "Datasets"]),
        // The evaluation path: sample or image -> test pipeline -> model -> prediction and scores.
        .target(name: "Evaluation", dependencies: ["CTCore", "ImageIO", "Datasets", "Augment", "Metrics", "Model",
                                                   "Inference"]),
        // Manifests and pipelines: JSON values, strict validation, the typed run description (model section included).
        .target(name: "ManifestSchema", dependencies: ["CTCore", "Datasets", "Augment", "Model", "LabelFiles"]),
        // A run folder's layout and records: run directory, shard ids and records, per-image scores and
        // gallery, environment, run problems and errors.
        .target(name: "RunFolder", dependencies: ["CTCore", "ImageIO", "Metrics", "Tensor", "ManifestSchema", "LabelFiles"]),
        // Results history (SQLite), regression checks, report.html and its charts, the loss curve.
        .target(name: "RunReports", dependencies: ["CTCore", "ImageIO", "Datasets", "Metrics", "CSQLite", "ManifestSchema",
                                                   "RunFolder"]),
        // The sharded runner: the pipeline's stages run in order, the train stage, merge, completion.
        .target(name: "PipelineRunner", dependencies: ["CTCore", "ImageIO", "Datasets", "Augment", "Metrics", "Model",
                                                       "Tensor", "Inference", "Training", "LabelFiles", "Evaluation",
                                                       "ManifestSchema", "RunFolder", "RunReports", "Distributed"]),

        // The command-line tool: one file per subcommand.
        .executableTarget(name: "ctpipe", dependencies: [
            "ImageIO", "CTCore", "Datasets", "Augment", "Model", "Tensor", "Inference", "LabelFiles", "Evaluation",
            "ManifestSchema", "RunFolder", "RunReports", "PipelineRunner", "Distributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Release-build benchmarks (not tests): one file per family, JSON out.
        .executableTarget(name: "ctbench", dependencies: ["ImageIO", "CTCore", "Datasets", "Augment", "Metrics", "Model",
                                                          "Tensor", "Inference", "Training", "COpenBLAS", "LabelFiles",
                                                          "Evaluation", "ManifestSchema", "RunFolder", "PipelineRunner"]),

        // Fuzzing (scripts/fuzz.sh, CI): each reader of files ctpipe did not write as a function
        // from bytes to an outcome, and the driver that runs them under libFuzzer or replays inputs.
        .target(name: "FuzzTargets", dependencies: ["CTCore", "ImageIO", "Datasets", "Model", "ManifestSchema", "CZlib"],
                path: "Fuzz/FuzzTargets"),
        .executableTarget(name: "ctfuzz", dependencies: ["FuzzTargets", "CTCore"], path: "Fuzz/ctfuzz"),

        // Test helpers shared by the test targets: fixture folders (each target passes its
        // own bundle), the golden closeness check, seeded random inputs, temporary folders.
        .target(name: "TestSupport", dependencies: ["CTCore"], path: "Tests/TestSupport"),

        .testTarget(name: "CTCoreTests", dependencies: ["CTCore", "TestSupport"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "CTCore", "CZlib", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PipelineTests", dependencies: ["ManifestSchema", "LabelFiles", "Evaluation", "RunFolder", "RunReports",
                                                          "PipelineRunner", "Metrics", "Datasets", "ImageIO", "CTCore",
                                                          "Model", "Inference", "Tensor", "Augment"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "RunReportsTests", dependencies: ["RunReports", "ManifestSchema", "CTCore"]),
        .testTarget(name: "AugmentTests", dependencies: ["Augment", "ImageIO", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["ctpipe", "CTCore", "ImageIO", "ManifestSchema", "RunFolder",
                                                     "RunReports", "PipelineRunner", "TestSupport", "Model", "Inference"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ImageIO", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CTCore", "TestSupport", "COpenBLAS"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Tensor", "CTCore", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Model", "Tensor", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets", "CTCore", "TestSupport"], resources: [.copy("Regressions")]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Model", "Tensor", "ImageIO", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
    ]
)

for target in package.targets where [.regular, .executable, .test].contains(target.type) {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ] + cpuSwiftSettings
}
