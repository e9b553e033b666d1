// swift-tools-version: 6.0
// ctpipe — batch semantic segmentation of driving scenes with Causal-Tune on DINOv2.
//
// One target per stage family; numerics never import image codecs, the CLI stays thin.
// C libraries come from Debian (scripts/setup.sh installs them) and are found via pkg-config.
import PackageDescription

let package = Package(
    name: "ctpipe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ctpipe", targets: ["ctpipe"]),
        .executable(name: "ctbench", targets: ["ctbench"]),
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

        // The only C we own: libpng/libjpeg calls under setjmp, returning a flag and a message.
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG", "CZlib"]),

        // Files, NumPy arrays, atomic writes: shared by every stage.
        .target(name: "CTCore"),
        // Images and label maps: PNG/JPEG decode and encode, resize.
        .target(name: "ImageIO", dependencies: ["CImageCodecs", "CTCore"]),
        // Dataset readers (Cityscapes, GTA5, ACDC, BDD100K, Mapillary) and the synthetic scene generator.
        .target(name: "Datasets", dependencies: ["ImageIO", "CTCore"]),

        // Manifests, pipelines, the sharded runner, run directories.
        .target(name: "Pipeline", dependencies: ["CTCore", "ImageIO", "Datasets", "Augment", "Metrics", "CSQLite",
                                                 "Model", "Tensor", "Inference", "Training"]),
        // Training crops and test resizes with MMSegmentation/mmcv semantics.
        .target(name: "Augment", dependencies: ["ImageIO", "CTCore"]),
        // Confusion matrices, IoU/mIoU/aAcc/mAcc, metrics.json.
        .target(name: "Metrics", dependencies: ["CTCore"]),

        // Float32 tensors and kernels: GEMM (OpenBLAS), LayerNorm, softmax, GELU, bicubic resize, threads.
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CFFTW", "CTCore"]),
        // Networks and their weights: DINOv2 ViT, weight files (safetensors, PyTorch zip/pickle).
        .target(name: "Model", dependencies: ["Tensor", "CTCore"]),
        // Whole-image segmentation: normalisation, sliding windows, label maps.
        .target(name: "Inference", dependencies: ["Model", "Tensor", "ImageIO", "CTCore"]),
        // Training: backward passes, loss, AdamW, schedules, training state.
        .target(name: "Training", dependencies: ["Model", "Tensor", "CTCore"]),

        // The command-line tool: one file per subcommand.
        .executableTarget(name: "ctpipe", dependencies: [
            "ImageIO", "CTCore", "Datasets", "Pipeline", "Augment", "Model", "Tensor", "Inference",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Release-build benchmarks (not tests): one file per family, JSON out.
        .executableTarget(name: "ctbench", dependencies: ["ImageIO", "CTCore", "Datasets", "Augment", "Metrics", "Pipeline",
                                                          "Model", "Tensor", "Inference", "Training", "COpenBLAS"]),

        // Test helpers shared by the test targets: fixture folders (each target passes its
        // own bundle), the golden closeness check, seeded random inputs, temporary folders.
        .target(name: "TestSupport", dependencies: ["CTCore"], path: "Tests/TestSupport"),

        .testTarget(name: "CTCoreTests", dependencies: ["CTCore"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "CTCore", "CZlib", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Metrics", "Datasets", "ImageIO", "CTCore",
                                                          "Model", "Inference", "Tensor", "Augment"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "AugmentTests", dependencies: ["Augment", "ImageIO", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["ctpipe", "CTCore", "ImageIO", "Pipeline", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ImageIO", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CTCore", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Tensor", "CTCore", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Model", "Tensor", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Model", "Tensor", "ImageIO", "CTCore", "TestSupport"],
                    resources: [.copy("Fixtures")]),
    ]
)

for target in package.targets where [.regular, .executable, .test].contains(target.type) {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}
