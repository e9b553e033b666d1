// ManifestLoader.swift — reads and validates a manifest and its pipeline,
// resolving paths relative to the manifest's folder. Everything that can be
// checked without running is checked here: schema, unknown keys, types,
// ranges, stage rules, files and dataset roots present, crops against the
// model's patch size (read from the headers of the files it names).

import Augment
import CTCore
import Datasets
import Foundation
import LabelFiles

public enum ManifestLoader {
    static let manifestKeys = ["version", "name", "description", "pipeline", "seed", "seeds", "datasets", "model",
                               "training", "predictions", "outputs", "execution", "history", "averages"]
    static let trainingKeys = ["iterations", "batch_size", "accumulate", "crop_size", "lr", "weight_decay", "betas",
                               "eps", "poly_power", "warmup_iterations", "checkpoint_interval", "eval_interval",
                               "activation_checkpointing", "augment"]
    static let augmentKeys = ["short_edges", "max_size", "cat_max_ratio", "flip_probability", "photometric"]
    static let pipelineKeys = ["version", "name", "description", "stages", "defaults"]
    static let datasetKeys = ["name", "kind", "root", "split", "condition", "role", "layout", "scale", "synthesize",
                              "size_mismatch"]
    static let synthesizeKeys = ["count", "seed", "size"]
    static let outputKeys = ["dir", "formats", "overlay_alpha"]
    static let executionKeys = ["shards", "workers", "on_error", "max_pixels"]
    /// `datasets[i].condition` of ACDC: one of its conditions, or all of them.
    static let acdcConditions = ACDCCondition.allCases.map(\.rawValue) + ["all"]

    /// Manifests and pipeline files are UTF-8 JSON of at most this many bytes.
    public static let maximumFileBytes = 1 << 20

    /// The bytes of a manifest or pipeline file: a regular file, at most `maximumFileBytes`, UTF-8.
    static func jsonText(_ path: String) throws(FileError) -> [UInt8] {
        let bytes = try FileBytes.read(path, limit: maximumFileBytes)
        try checkText(bytes, path: path)
        return bytes
    }

    /// Refuses bytes that cannot be a manifest or pipeline file: over the size limit, NUL bytes, not UTF-8.
    static func checkText(_ bytes: [UInt8], path: String) throws(FileError) {
        guard bytes.count <= maximumFileBytes else {
            throw FileError(path: path, reason: "is \(bytes.count) bytes; manifests and pipelines are at most \(maximumFileBytes) bytes")
        }
        guard !bytes.contains(0), String(bytes: bytes, encoding: .utf8) != nil else {
            throw FileError(path: path, reason: "is not UTF-8 text; manifests and pipelines are UTF-8 JSON (UTF-16 and other encodings are refused)")
        }
    }

    /// Why `name` cannot be one path component of the run folder (nil when it can): not
    /// empty, only letters, digits, '-', '_' and '.', not starting with '.'.
    public static func pathComponentProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty (it names a folder)" }
        if name.hasPrefix(".") || name.contains(where: { !(($0.isLetter || $0.isNumber) && $0.isASCII || "-_.".contains($0)) }) {
            return "\"\(name)\" may contain only ASCII letters, digits, '-', '_' and '.', and may not start with '.' (it names a folder)"
        }
        return nil
    }

    /// Loads and validates `path`. Throws `ManifestError` listing every problem,
    /// or `FileError` when the manifest itself cannot be read or parsed.
    public static func load(_ path: String, checkFiles: Bool = true) throws -> Manifest {
        try load(bytes: try jsonText(path), as: path, checkFiles: checkFiles)
    }

    /// Loads and validates manifest text as if it were the file `path` (its folder resolves relative paths):
    /// the embedded demo manifest.
    public static func load(text: String, as path: String, checkFiles: Bool = true) throws -> Manifest {
        try load(bytes: Array(text.utf8), as: path, checkFiles: checkFiles)
    }

    /// Loads and validates a manifest file's bytes as if they were the file `path`: the same checks as
    /// reading the file (size, UTF-8, JSON, schema, and the files it names when `checkFiles`).
    public static func load(bytes: [UInt8], as path: String, checkFiles: Bool = true) throws -> Manifest {
        try checkText(bytes, path: path)
        let json = try JSONValue.parse(bytes, path: path)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var reader = FieldReader()
        let manifest = read(json, folder: folder, file: path, checkFiles: checkFiles, reader: &reader)
        if let manifest, reader.problems.isEmpty { return manifest }
        throw ManifestError(file: path, problems: reader.problems)
    }

    /// Resolves a path from a manifest against the manifest's folder.
    static func resolve(_ path: String, in folder: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded).standardizedFileURL.path }
        return URL(fileURLWithPath: folder).appendingPathComponent(expanded).standardizedFileURL.path
    }

    static func read(_ json: JSONValue, folder: String, file: String, checkFiles: Bool,
                     reader: inout FieldReader) -> Manifest? {
        guard let root = reader.object(json, at: "$", allowed: manifestKeys) else { return nil }
        if root["version"] == nil {
            reader.report("$.version", "required field is missing (this ctpipe reads version \(Manifest.supportedVersion))")
        } else if let version = reader.int(root, "version", at: "$"), version != Manifest.supportedVersion {
            reader.report("$.version", "version \(version) is not supported (this ctpipe reads version \(Manifest.supportedVersion))")
        }
        let name = reader.requiredString(root, "name", at: "$")
        if let name, let problem = pathComponentProblem(name) { reader.report("$.name", problem) }
        _ = reader.string(root, "description", at: "$")

        // Pipeline: a file path (relative to the manifest) or an inline object.
        var pipeline: PipelineSpec?
        var pipelineJSON = JSONValue.null
        switch root["pipeline"] {
        case nil:
            reader.report("$.pipeline", "required field is missing (a pipelines/*.json path or an inline pipeline)")
        case .string(let relative)?:
            let pipelinePath = resolve(relative, in: folder)
            do {
                pipelineJSON = try JSONValue.parse(try jsonText(pipelinePath), path: pipelinePath)
                pipeline = readPipeline(pipelineJSON, at: "$.pipeline<\(relative)>", reader: &reader)
            } catch {
                reader.report("$.pipeline", "\(error)")
            }
        case .object?:
            pipelineJSON = root["pipeline"]!
            pipeline = readPipeline(pipelineJSON, at: "$.pipeline", reader: &reader)
        case let other?:
            reader.report("$.pipeline", "expected a path or an object, found \(other.typeName)")
        }
        let defaults = pipeline?.defaults ?? [:]

        let seeds = readSeeds(root, reader: &reader)
        let seed = reader.int(root, "seed", at: "$", range: 0 ... Int(Int32.max))
            ?? defaults["seed"].flatMap { reader.intValue($0, at: "$.pipeline.defaults.seed", range: 0 ... Int(Int32.max)) } ?? 0

        // Datasets.
        var datasets: [Manifest.DatasetEntry] = []
        if let items = reader.array(root, "datasets", at: "$") {
            if items.isEmpty { reader.report("$.datasets", "at least one dataset is needed") }
            for (i, item) in items.enumerated() {
                if let entry = readDataset(item, at: "$.datasets[\(i)]", folder: folder, checkFiles: checkFiles, reader: &reader) {
                    datasets.append(entry)
                }
            }
        } else if root["datasets"] == nil {
            reader.report("$.datasets", "required field is missing")
        }
        var seen: [String: Int] = [:]
        for (i, d) in datasets.enumerated() {
            if let first = seen[d.name] {
                reader.report("$.datasets[\(i)].name", "\"\(d.name)\" is already used by $.datasets[\(first)]; give each dataset its own name")
            }
            seen[d.name] = seen[d.name] ?? i
        }

        // Model.
        var model: Manifest.ModelSpec?
        if let value = root["model"] {
            model = readModel(value, at: "$.model", folder: folder, checkFiles: checkFiles, reader: &reader)
        }

        // Training hyper-parameters (defaults: method.md section 4).
        var training = Manifest.TrainingSpec()
        if let value = root["training"], let object = reader.object(value, at: "$.training", allowed: trainingKeys) {
            let at = "$.training"
            if let v = reader.int(object, "iterations", at: at, range: 1 ... 100_000_000) { training.iterations = v }
            if let v = reader.int(object, "batch_size", at: at, range: 1 ... 1024) { training.batchSize = v }
            if let v = reader.int(object, "accumulate", at: at, range: 1 ... 1024) { training.accumulate = v }
            if let v = reader.int(object, "crop_size", at: at, range: 14 ... 4096) { training.cropSize = v }
            if let v = reader.double(object, "lr", at: at, range: 0 ... 10) { training.lr = v }
            if let v = reader.double(object, "weight_decay", at: at, range: 0 ... 10) { training.weightDecay = v }
            if let v = reader.array(object, "betas", at: at) {
                let betas = v.enumerated().compactMap { i, item -> Double? in
                    reader.double(["b": item], "b", at: "\(at).betas[\(i)]", range: 0 ... 0.999999)
                }
                if betas.count == 2 { training.betas = (betas[0], betas[1]) } else if v.count != 2 {
                    reader.report(at + ".betas", "expected 2 numbers, found \(v.count)")
                }
            }
            if let v = reader.double(object, "eps", at: at, range: 0 ... 1) { training.eps = v }
            if let v = reader.double(object, "poly_power", at: at, range: 0 ... 10) { training.polyPower = v }
            if let v = reader.int(object, "warmup_iterations", at: at, range: 0 ... 100_000_000) { training.warmupIterations = v }
            if let v = reader.int(object, "checkpoint_interval", at: at, range: 1 ... 100_000_000) { training.checkpointInterval = v }
            if let v = reader.int(object, "eval_interval", at: at, range: 0 ... 100_000_000) { training.evalInterval = v }
            if let v = reader.bool(object, "activation_checkpointing", at: at) { training.activationCheckpointing = v }
            if let v = object["augment"] { training.augment = readAugment(v, at: at + ".augment", reader: &reader) }
        }

        // Predictions (score-existing-predictions).
        var predictions: Manifest.PredictionsSpec?
        if let value = root["predictions"], let object = reader.object(value, at: "$.predictions", allowed: ["dir", "format"]) {
            if let dir = reader.requiredString(object, "dir", at: "$.predictions") {
                let resolved = resolve(dir, in: folder)
                if checkFiles, !isFolder(resolved) { reader.report("$.predictions.dir", "folder not found: \(dir)") }
                predictions = Manifest.PredictionsSpec(
                    dir: resolved, format: reader.choice(object, "format", at: "$.predictions", as: Manifest.PredictionFormat.self) ?? .trainid)
            }
        }

        // Outputs and execution: pipeline defaults, then the manifest's values.
        let outputs = readOutputs(merged(defaults["outputs"], root["outputs"]), folder: folder, reader: &reader)
        let execution = readExecution(merged(defaults["execution"], root["execution"]), reader: &reader)
        let history = readHistory(root["history"], folder: folder, reader: &reader)
        let averages = readAverages(root["averages"], datasets: datasets, scores: pipeline.map { $0.has(.metric) }, reader: &reader)

        // Cross-field rules.
        if let pipeline {
            let hasTrain = datasets.contains { $0.role == .train }
            let hasEval = datasets.contains { $0.role == .eval }
            if pipeline.has(.train) && !hasTrain { reader.report("$.datasets", "the pipeline trains, but no dataset has \"role\": \"train\"") }
            if (pipeline.has(.infer) || pipeline.has(.predictions)) && !hasEval {
                reader.report("$.datasets", "the pipeline evaluates, but no dataset has \"role\": \"eval\"")
            }
            if pipeline.has(.train), let problem = model?.trainingProblem { reader.report("$.model." + problem.field, problem.reason) }
            if let model, model.head == .mask2former, model.checkpoint == nil, !pipeline.has(.train),
               !reader.problems.contains(where: { $0.path == "$.model.checkpoint" }) {
                reader.report("$.model.checkpoint", "the mask2former head needs a trained checkpoint (an MMSegmentation .pth of Rein or Causal-Tune, or a ctpipe Mask2Former file) unless the pipeline trains it; give its path")
            }
            if (pipeline.has(.infer) || pipeline.has(.train)) && model == nil && root["model"] == nil {
                reader.report("$.model", "required by the pipeline's \(pipeline.has(.train) ? "train" : "infer") stage")
            }
            if pipeline.has(.predictions) && predictions == nil && root["predictions"] == nil {
                reader.report("$.predictions", "required by the pipeline's predictions stage ({\"dir\": ..., \"format\": ...})")
            }
            if pipeline.has(.write) && outputs.formats.isEmpty {
                reader.report("$.outputs.formats", "the pipeline writes, but no output format is chosen")
            }
        }

        // The slide window: the stride may not exceed the crop (pixels would stay unpredicted).
        if let model {
            let crop = model.crop ?? training.cropSize
            let cropUnreadable = reader.problems.contains { $0.path == "$.model.crop" }
            if let stride = model.stride, stride > crop, !cropUnreadable {
                reader.report("$.model.stride", "\(stride) is larger than the crop \(crop): windows would leave pixels unpredicted")
            }
        }

        // The crops against the model's patch size (PatchSizeCheck.swift).
        if let model, let pipeline {
            checkPatchSize(model, training: training, pipeline: pipeline, readFiles: checkFiles, reader: &reader)
        }

        // The patch grids the model will run on, where the manifest fixes them (the haar transform's
        // power-of-two rule): the training crop when the pipeline trains, the slide window when it infers.
        if let model, let pipeline, !reader.problems.contains(where: { $0.path.hasPrefix("$.model") || $0.path == "$.training.crop_size" }) {
            var grids: [(field: String, crop: Int)] = []
            if pipeline.has(.train) { grids.append(("$.training.crop_size", training.cropSize)) }
            if pipeline.has(.train) || pipeline.has(.infer) {
                grids.append((model.crop == nil ? "$.training.crop_size" : "$.model.crop", model.crop ?? training.cropSize))
            }
            for (field, crop) in grids where !reader.problems.contains(where: { $0.path == field }) {
                if let problem = model.gridProblem(crop: crop) { reader.report(field, problem) }
            }
        }

        guard let pipeline, reader.problems.isEmpty else { return nil }
        var resolvedObject = root
        resolvedObject["pipeline"] = pipelineJSON
        var manifest = Manifest(file: file, name: name ?? "", pipeline: pipeline, seed: seeds?.first ?? seed, datasets: datasets,
                                model: model, training: training, predictions: predictions, outputs: outputs,
                                execution: execution, configurationHash: configurationHash(of: resolvedObject),
                                resolved: .object(resolvedObject))
        manifest.history = history
        manifest.averages = averages
        manifest.seeds = seeds
        return manifest
    }

    /// SHA-256 of the canonical JSON of a resolved manifest (pipeline inlined), without the sections
    /// that say how results are recorded and summarised rather than what they are: `history` and
    /// `averages` are not hashed.
    static func configurationHash(of resolved: [String: JSONValue]) -> String {
        var object = resolved
        object["history"] = nil
        object["averages"] = nil
        return SHA256.hex(Array(JSONValue.object(object).canonicalText().utf8))
    }

    /// `seeds`: a non-empty list of distinct seeds 0...2^31-1; exclusive with `seed`. Nil when absent or invalid.
    static func readSeeds(_ root: [String: JSONValue], reader: inout FieldReader) -> [Int]? {
        guard let value = root["seeds"] else { return nil }
        guard case .array(let items) = value else {
            reader.report("$.seeds", "expected an array of seeds, e.g. [0, 1, 2], found \(value.typeName)")
            return nil
        }
        var problems = false
        if root["seed"] != nil {
            reader.report("$.seeds", "give either seed (one run) or seeds (one run per seed), not both")
            problems = true
        }
        if items.isEmpty {
            reader.report("$.seeds", "at least one seed is needed (or leave seeds out and give seed)")
            return nil
        }
        var seeds: [Int] = []
        var first: [Int: Int] = [:]
        for (i, item) in items.enumerated() {
            guard let seed = reader.intValue(item, at: "$.seeds[\(i)]", range: 0 ... Int(Int32.max)) else {
                problems = true
                continue
            }
            if let j = first[seed] {
                reader.report("$.seeds[\(i)]", "\(seed) is already $.seeds[\(j)]; each seed runs once")
                problems = true
            } else {
                first[seed] = i
                seeds.append(seed)
            }
        }
        return problems ? nil : seeds
    }

    /// `averages`: an object of named groups, each a non-empty list of evaluated sets. A member is an
    /// eval dataset's name (an ACDC `condition: all` dataset stands for its four condition sets) or
    /// one such condition set `<name>/<condition>`. `scores`: the pipeline has a metric stage (nil: unknown).
    static func readAverages(_ json: JSONValue?, datasets: [Manifest.DatasetEntry], scores: Bool?,
                             reader: inout FieldReader) -> [Manifest.Average] {
        guard let json else { return [] }
        guard case .object(let object) = json else {
            reader.report("$.averages", "expected an object of named groups, e.g. {\"ACDC\": [\"acdc-fog\", \"acdc-night\"]}, found \(json.typeName)")
            return []
        }
        if object.isEmpty { reader.report("$.averages", "names no group; leave it out for the default Avg. over every evaluated set") }
        if scores == false { reader.report("$.averages", "the pipeline has no metric stage, so there are no mIoUs to average") }
        // What each evaluated name stands for, in the order the sets are reported.
        var sets: [String: [String]] = [:]
        for entry in datasets where entry.role == .eval {
            if entry.kind == .acdc && entry.condition == "all" {
                let parts = ACDCCondition.allCases.map { "\(entry.name)/\($0.rawValue)" }
                sets[entry.name] = parts
                for part in parts { sets[part] = [part] }
            } else {
                sets[entry.name] = [entry.name]
            }
        }
        let reported = Set(sets.values.joined())
        let training = Set(datasets.filter { $0.role == .train }.map(\.name))
        var groups: [Manifest.Average] = []
        for name in object.keys.sorted() {
            let at = pathComponentProblem(name) == nil ? "$.averages.\(name)" : "$.averages[\(JSONText.quote(name))]"
            var valid = true
            if pathComponentProblem(name) != nil {
                reader.report(at, "a group name may contain only ASCII letters, digits, '-', '_' and '.', may not start with '.', and may not be empty")
                valid = false
            } else if reported.contains(name) {
                reader.report(at, "\"\(name)\" is also the name of an evaluated set; give the average another name")
                valid = false
            }
            let value = object[name]!
            guard case .array(let items) = value else {
                reader.report(at, "expected an array of evaluated dataset names, found \(value.typeName)")
                continue
            }
            if items.isEmpty {
                reader.report(at, "an average needs at least one evaluated dataset")
                continue
            }
            var over: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let member) = item else {
                    reader.report("\(at)[\(i)]", "expected a dataset name (a string), found \(item.typeName)")
                    valid = false
                    continue
                }
                guard let expansion = sets[member] else {
                    if training.contains(member) {
                        reader.report("\(at)[\(i)]", "\"\(member)\" is a training dataset (role train); only evaluated datasets are averaged")
                    } else {
                        let known = datasets.filter { $0.role == .eval }.map(\.name)
                        let hint = sets.keys.min(by: { editDistance($0, member) < editDistance($1, member) })
                            .flatMap { editDistance($0, member) <= 2 ? " (did you mean \"\($0)\"?)" : nil } ?? ""
                        reader.report("\(at)[\(i)]", "\"\(member)\" is not an evaluated dataset of this manifest\(hint); evaluated: "
                            + known.joined(separator: ", ") + (sets.count > known.count ? " (ACDC condition sets as <name>/<condition>)" : ""))
                    }
                    valid = false
                    continue
                }
                for set in expansion {
                    if over.contains(set) {
                        reader.report("\(at)[\(i)]", "\"\(set)\" is already in this average")
                        valid = false
                    } else {
                        over.append(set)
                    }
                }
            }
            if valid { groups.append(Manifest.Average(name: name, over: over)) }
        }
        return groups
    }

    static func readPipeline(_ json: JSONValue, at path: String, reader: inout FieldReader) -> PipelineSpec? {
        guard let object = reader.object(json, at: path, allowed: pipelineKeys) else { return nil }
        if let version = reader.int(object, "version", at: path), version != Manifest.supportedVersion {
            reader.report(path + ".version", "version \(version) is not supported")
        }
        let name = reader.string(object, "name", at: path) ?? "inline"
        var stages: [StageKind] = []
        if let names = reader.strings(object, "stages", at: path) {
            for (i, n) in names.enumerated() {
                if let stage = StageKind(rawValue: n) { stages.append(stage) } else {
                    reader.report("\(path).stages[\(i)]", "unknown stage \"\(n)\"; stages: \(StageKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            if names.isEmpty { reader.report(path + ".stages", "lists no stage; a pipeline runs at least one (\(StageKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        } else if object["stages"] == nil {
            reader.report(path + ".stages", "required field is missing")
        }
        var defaults: [String: JSONValue] = [:]
        if let value = object["defaults"], let d = reader.object(value, at: path + ".defaults", allowed: ["outputs", "execution", "seed"]) {
            defaults = d
        }
        let spec = PipelineSpec(name: name, description: reader.string(object, "description", at: path) ?? "",
                                stages: stages, defaults: defaults)
        if !stages.isEmpty { spec.check(at: path, into: &reader) }
        return spec
    }

    static func readDataset(_ json: JSONValue, at path: String, folder: String, checkFiles: Bool,
                            reader: inout FieldReader) -> Manifest.DatasetEntry? {
        guard let object = reader.object(json, at: path, allowed: datasetKeys) else { return nil }
        if object["kind"] == nil { reader.report(path + ".kind", "required field is missing (\(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        let kind = reader.choice(object, "kind", at: path, as: DatasetKind.self)
        let root = reader.requiredString(object, "root", at: path)
        let split = reader.string(object, "split", at: path)
        let condition = reader.string(object, "condition", at: path)
        let role = reader.choice(object, "role", at: path, as: Manifest.Role.self) ?? .eval
        let layout = reader.choice(object, "layout", at: path, as: Manifest.Layout.self) ?? .auto
        let scale = reader.ints(object, "scale", at: path, count: 2, range: 1 ... 16384)
        let sizeMismatch = reader.choice(object, "size_mismatch", at: path, as: SizeMismatchRule.self) ?? .skip
        guard let kind, let root else { return nil }
        if let condition {
            if kind != .acdc { reader.report(path + ".condition", "only ACDC datasets have conditions") }
            else if !acdcConditions.contains(condition) {
                reader.report(path + ".condition", "\"\(condition)\" is not one of \(acdcConditions.joined(separator: ", "))")
            }
        }
        var synthesize: Manifest.SynthesizeSpec?
        if let value = object["synthesize"], let spec = reader.object(value, at: path + ".synthesize", allowed: synthesizeKeys) {
            let size = reader.ints(spec, "size", at: path + ".synthesize", count: 2, range: 16 ... 4096) ?? [256, 128]
            synthesize = Manifest.SynthesizeSpec(count: reader.int(spec, "count", at: path + ".synthesize", range: 1 ... 100_000) ?? 20,
                                                 seed: reader.int(spec, "seed", at: path + ".synthesize", range: 0 ... Int(Int32.max)) ?? 0,
                                                 width: size[0], height: size[1])
        }
        let resolvedRoot = resolve(root, in: folder)
        if checkFiles && synthesize == nil && !isFolder(resolvedRoot) {
            reader.report(path + ".root", "folder not found: \(root) (\(DatasetHints.download(kind)))")
        }
        let chosenSplit = split ?? Manifest.defaultSplit(kind)
        let name = reader.string(object, "name", at: path)
            ?? [kind.rawValue, chosenSplit, condition == "all" ? nil : condition].compactMap { $0 }.joined(separator: "-")
        if let problem = pathComponentProblem(name) { reader.report(path + ".name", problem) }
        let size = scale.map { (width: $0[0], height: $0[1]) } ?? Manifest.defaultScale(kind)
        return Manifest.DatasetEntry(name: name, kind: kind, root: resolvedRoot, split: chosenSplit,
                                     condition: kind == .acdc ? (condition ?? "all") : nil,
                                     role: role, layout: layout, scale: size, synthesize: synthesize, sizeMismatch: sizeMismatch)
    }

    /// `training.augment`: every field optional, defaults the configs' pipeline (docs/training.md).
    static func readAugment(_ json: JSONValue, at path: String, reader: inout FieldReader) -> AugmentSettings {
        var settings = AugmentSettings()
        guard let object = reader.object(json, at: path, allowed: augmentKeys) else { return settings }
        switch object["short_edges"] {
        case nil, .string("default")?:
            break
        case .array?:
            if let edges = reader.ints(object, "short_edges", at: path, range: 1 ... 16384) { settings.shortEdges = edges }
        case .string(let text)?:
            reader.report(path + ".short_edges", "\"\(text)\" is not \"default\"; give \"default\" (the configs' list for the crop size) or a list of short-edge lengths ([] turns the resize off)")
        case let other?:
            reader.report(path + ".short_edges", "expected a list of integers or \"default\", found \(other.typeName)")
        }
        if let v = reader.int(object, "max_size", at: path, range: 1 ... 65535) { settings.maxSize = v }
        if let v = reader.double(object, "cat_max_ratio", at: path, range: 0 ... 1) { settings.catMaxRatio = v }
        if let v = reader.double(object, "flip_probability", at: path, range: 0 ... 1) { settings.flipProbability = v }
        if let v = reader.bool(object, "photometric", at: path) { settings.photometric = v }
        return settings
    }

    static func readOutputs(_ json: JSONValue?, folder: String, reader: inout FieldReader) -> Manifest.OutputsSpec {
        var spec = Manifest.OutputsSpec(dir: resolve("runs", in: folder), formats: [], overlayAlpha: 0.5)
        guard let json, let object = reader.object(json, at: "$.outputs", allowed: outputKeys) else { return spec }
        if let dir = reader.string(object, "dir", at: "$.outputs") { spec.dir = resolve(dir, in: folder) }
        if let names = reader.strings(object, "formats", at: "$.outputs") {
            spec.formats = []
            for (i, n) in names.enumerated() {
                if let f = Manifest.OutputFormat(rawValue: n) { spec.formats.append(f) } else {
                    reader.report("$.outputs.formats[\(i)]", "\"\(n)\" is not one of \(Manifest.OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
        }
        if let alpha = reader.double(object, "overlay_alpha", at: "$.outputs", range: 0 ... 1) { spec.overlayAlpha = alpha }
        return spec
    }

    static func readExecution(_ json: JSONValue?, reader: inout FieldReader) -> Manifest.ExecutionSpec {
        var spec = Manifest.ExecutionSpec(shards: 8, workers: nil, onError: .fail)
        guard let json, let object = reader.object(json, at: "$.execution", allowed: executionKeys) else { return spec }
        if let shards = reader.int(object, "shards", at: "$.execution", range: Manifest.ExecutionSpec.shardRange) { spec.shards = shards }
        if let workers = reader.int(object, "workers", at: "$.execution", range: Manifest.ExecutionSpec.workerRange) { spec.workers = workers }
        if let onError = reader.choice(object, "on_error", at: "$.execution", as: Manifest.OnError.self) { spec.onError = onError }
        // No PNG or JPEG can declare more than 65535 x 65535 < 2^32 pixels.
        if let maxPixels = reader.int(object, "max_pixels", at: "$.execution", range: 1 ... (1 << 32)) { spec.maxPixels = maxPixels }
        return spec
    }

    /// Object-level merge: keys of `override` replace those of `base`.
    static func merged(_ base: JSONValue?, _ override: JSONValue?) -> JSONValue? {
        guard case .object(var b)? = base else { return override }
        guard let override else { return base }
        guard case .object(let o) = override else { return override }
        for (k, v) in o { b[k] = v }
        return .object(b)
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// What to download, shown when a dataset root or weights file is missing.
enum DatasetHints {
    static func download(_ kind: DatasetKind) -> String {
        switch kind {
        case .cityscapes: "download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from the Cityscapes site and unpack both into this folder"
        case .gta5: "download 01_images.zip..10_images.zip and 01_labels.zip..10_labels.zip (Playing for Data) and unpack them into this folder (images/, labels/)"
        case .acdc: "download rgb_anon_trainvaltest.zip and gt_trainval.zip from the ACDC site and unpack both into this folder (rgb_anon/, gt/)"
        case .bdd100k: "download the BDD100K '10K Images' and 'Semantic Segmentation' packages and unpack them so this folder holds images/10k and labels/sem_seg"
        case .mapillary: "download Mapillary Vistas (v2.0 package, which contains v1.2) and unpack it into this folder (config_v1.2.json, training/, validation/)"
        }
    }
    static let weights = "download the DINOv2 weights (e.g. dinov2_vitl14_pretrain.pth from the facebookresearch/dinov2 release) and put the file here, or convert them with `ctpipe convert-weights`"
}
