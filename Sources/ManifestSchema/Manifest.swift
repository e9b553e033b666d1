// Manifest.swift — the run description: which datasets, which model, which
// stages, which outputs. Strict and versioned: unknown keys are errors, every
// default is written down in docs/manifest.md, and every problem is reported
// with its JSON path before any work starts.

import Augment
import CTCore
import Datasets
import LabelFiles
import Foundation
import ImageIO

/// A validated manifest with every path resolved against the manifest's folder
/// and every default filled in.
public struct Manifest: Sendable, Equatable {
    public static let supportedVersion = 1

    /// The manifest file as given.
    public var file: String
    public var name: String
    public var pipeline: PipelineSpec
    public var seed: Int
    public var datasets: [DatasetEntry]
    public var model: ModelSpec?
    public var training: TrainingSpec
    public var predictions: PredictionsSpec?
    public var outputs: OutputsSpec
    public var execution: ExecutionSpec
    /// Results history and regression thresholds (HistorySpec.swift); not part of the configuration hash.
    public var history = HistorySpec()
    /// `averages`: named means of evaluated sets' mIoUs, in name order; empty: the default "Avg."
    /// over every evaluated set. Not part of the configuration hash.
    public var averages: [Average] = []
    /// `seeds`: run the manifest once per seed (PipelineRunner's SeedSweep); nil: one run with `seed`.
    /// With seeds, `seed` holds the first of them; `run(seed:)` gives each seed's manifest.
    public var seeds: [Int]?
    /// SHA-256 of the canonical JSON of manifest + pipeline (identifies a run configuration).
    public var configurationHash: String
    /// The resolved manifest as JSON (written into every run directory).
    public var resolved: JSONValue

    public enum Role: String, Sendable, CaseIterable, Codable { case train, eval }
    public typealias Layout = DatasetLayout
    public enum OnError: String, Sendable, CaseIterable, Codable { case fail, skip }
    /// `outputs.formats`: the label files of the write stage (LabelFiles).
    public typealias OutputFormat = LabelFileFormat
    public enum PredictionFormat: String, Sendable, CaseIterable, Codable { case trainid, labelid, color }

    /// One dataset the run reads.
    public struct DatasetEntry: Sendable, Equatable {
        public var name: String
        public var kind: DatasetKind
        public var root: String
        public var split: String
        public var condition: String?
        public var role: Role
        public var layout: Layout
        /// Evaluation resize scale (width, height) for keep-ratio resizing.
        public var scale: (width: Int, height: Int)
        /// Generate a synthetic dataset at `root` when it does not exist yet (demo, tests).
        public var synthesize: SynthesizeSpec?
        /// What the listing does with a pair whose image and label differ in size (PairSizeCheck.swift).
        public var sizeMismatch: SizeMismatchRule = .skip
        public static func == (a: DatasetEntry, b: DatasetEntry) -> Bool {
            a.name == b.name && a.kind == b.kind && a.root == b.root && a.split == b.split && a.condition == b.condition
                && a.role == b.role && a.layout == b.layout && a.scale == b.scale && a.synthesize == b.synthesize
                && a.sizeMismatch == b.sizeMismatch
        }
    }

    /// One named average (`averages.<name>`): the mean mIoU of the sets in `over` (dataset names,
    /// an ACDC `condition: all` dataset expanded to its four condition sets `<name>/<condition>`).
    public struct Average: Sendable, Equatable {
        public var name: String
        public var over: [String]
        public init(name: String, over: [String]) {
            self.name = name
            self.over = over
        }
    }

    /// The manifest of one seed of a `seeds` manifest: `seed` set, `seeds` removed, and the
    /// configuration hash recomputed, so it equals the hash of the same manifest written with
    /// `"seed": seed` and no `seeds` (a seed's run is that single run).
    public func run(seed: Int) -> Manifest {
        var copy = self
        copy.seeds = nil
        copy.seed = seed
        guard case .object(var object) = resolved else { return copy }
        object["seeds"] = nil
        object["seed"] = .int(seed)
        copy.resolved = .object(object)
        copy.configurationHash = ManifestLoader.configurationHash(of: object)
        return copy
    }

    /// Training hyper-parameters; defaults are the paper's (method.md section 4).
    public struct TrainingSpec: Sendable, Equatable {
        public var iterations = 40_000
        public var batchSize = 4
        /// Gradient accumulation steps per optimiser step (batch = batchSize * accumulate).
        public var accumulate = 1
        public var cropSize = 512
        public var lr = 1e-4
        public var weightDecay = 0.05
        public var betas = (0.9, 0.999)
        public var eps = 1e-8
        public var polyPower = 0.9
        public var warmupIterations = 0
        public var checkpointInterval = 4_000
        /// Evaluate every K iterations (0: only at the end).
        public var evalInterval = 0
        public var activationCheckpointing = false
        /// `training.augment`: the training pipeline (defaults: the configs' pipeline for `cropSize`).
        public var augment = AugmentSettings()
        public init() {}
        public static func == (a: TrainingSpec, b: TrainingSpec) -> Bool {
            a.iterations == b.iterations && a.batchSize == b.batchSize && a.accumulate == b.accumulate
                && a.cropSize == b.cropSize && a.lr == b.lr && a.weightDecay == b.weightDecay && a.betas == b.betas
                && a.eps == b.eps && a.polyPower == b.polyPower && a.warmupIterations == b.warmupIterations
                && a.checkpointInterval == b.checkpointInterval && a.evalInterval == b.evalInterval
                && a.activationCheckpointing == b.activationCheckpointing && a.augment == b.augment
        }
    }

    /// `datasets[i].synthesize`: what `ctpipe synth` would be asked for.
    public struct SynthesizeSpec: Sendable, Equatable {
        public var count: Int, seed: Int
        public var width: Int, height: Int
        public init(count: Int, seed: Int, width: Int, height: Int) {
            self.count = count
            self.seed = seed
            self.width = width
            self.height = height
        }
    }

    /// Score-existing-predictions input.
    public struct PredictionsSpec: Sendable, Equatable {
        public var dir: String
        public var format: PredictionFormat
    }

    public struct OutputsSpec: Sendable, Equatable {
        /// Folder under which `<name>/<timestamp>/` run directories are made.
        public var dir: String
        public var formats: [OutputFormat]
        /// Overlay opacity of the colour mask (0...1).
        public var overlayAlpha: Double
    }

    public struct ExecutionSpec: Sendable, Equatable {
        /// The shard counts `execution.shards` and `run --shard i/N` accept.
        public static let shardRange = 1 ... 100_000
        /// The worker counts `execution.workers` and `run --jobs` accept.
        public static let workerRange = 1 ... 1024

        /// Shards per dataset (results never depend on it).
        public var shards: Int
        /// Concurrent shard workers; nil = one per core.
        public var workers: Int?
        public var onError: OnError
        /// `execution.max_pixels`: images and labels whose header declares more pixels are
        /// refused before decoding (a sample problem). Default 64 MP.
        public var maxPixels: Int = DecodeLimits.defaultMaxPixels

        public var decodeLimits: DecodeLimits { DecodeLimits(maxPixels: maxPixels) }
    }

    /// The slide-inference window of the infer stage (datasets.md section 8).
    public struct SlideWindow: Sendable, Equatable {
        public var crop: Int, stride: Int
        public init(crop: Int, stride: Int) {
            self.crop = crop
            self.stride = stride
        }
    }

    /// `model.crop` / `model.stride`, else the training crop (default 512) and two thirds of it (341).
    public var slideWindow: SlideWindow {
        let crop = model?.crop ?? training.cropSize
        return SlideWindow(crop: crop, stride: model?.stride ?? max(1, crop * 2 / 3))
    }

    /// The label files the pipeline writes: `outputs.formats` when it has a write stage, else none.
    public var writtenFormats: [OutputFormat] { pipeline.has(.write) ? outputs.formats : [] }

    /// Default evaluation scale per dataset (datasets.md section 8, 512 configs).
    public static func defaultScale(_ kind: DatasetKind) -> (width: Int, height: Int) {
        switch kind {
        case .cityscapes, .mapillary: (1024, 512)
        case .bdd100k, .gta5: (1280, 720)
        case .acdc: (960, 540)
        }
    }

    /// Default split per dataset kind.
    public static func defaultSplit(_ kind: DatasetKind) -> String {
        switch kind {
        case .gta5: "all"
        default: "val"
        }
    }
}
