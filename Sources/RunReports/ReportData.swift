// ReportData.swift — everything report.html shows, gathered from a run folder
// (manifest.json, environment.json, metrics.json, shard records with per-image
// scores, gallery thumbnails, regression.json, train_log.jsonl) and from the
// results history when there is one.

import CTCore
import Foundation
import ManifestSchema
import Metrics
import RunFolder

/// One image of the gallery: its scores and three PNG thumbnails.
public struct GalleryItem: Sendable, Equatable {
    public var dataset: String
    public var group: String
    public var id: String
    /// Percent.
    public var mIoU: Double?
    public var aAcc: Double?
    public var image: [UInt8]
    public var truth: [UInt8]
    public var prediction: [UInt8]
}

/// One point of a training loss curve (train_log.jsonl).
public struct LossPoint: Sendable, Equatable {
    public var iteration: Int
    public var loss: Double
    public init(iteration: Int, loss: Double) {
        self.iteration = iteration
        self.loss = loss
    }
}

public struct ReportData: Sendable {
    public var runID: String
    public var runDirectory: String
    public var manifestName: String
    public var configurationHash: String
    public var environment: EnvironmentRecord?
    public var metrics: MetricsReport
    /// This manifest's recorded runs of this run's seed, oldest first (at most `historyLimit`).
    public var history: [HistoryRun] = []
    public var historyDatabase: String?
    public var loss: [LossPoint] = []
    /// Worst images first, per group in metrics order.
    public var gallery: [String: [GalleryItem]] = [:]
    public var regression: RegressionReport?

    /// Runs shown in the trend chart.
    public static let historyLimit = 60

    /// This run's history record, when recorded.
    public var recorded: HistoryRun? { history.last { $0.runID == runID } }

    /// Reads a finished run folder. `historyDatabase` nil: the database named in
    /// the folder's history.json (written when the run was recorded), if any.
    public static func load(runDirectory path: String, historyDatabase: String? = nil) throws -> ReportData {
        let directory = try RunDirectory(path: path)
        guard FileManager.default.fileExists(atPath: directory.metricsFile) else {
            throw RunError("\(directory.metricsFile): not found; the run has not finished (merge shards with `ctpipe merge \(path)`)")
        }
        let metrics = try MetricsReport.decode(try FileBytes.read(directory.metricsFile), path: directory.metricsFile)
        guard case .object(let record) = try JSONValue.parse(try FileBytes.read(directory.manifestFile), path: directory.manifestFile),
              case .string(let hash)? = record["configuration_hash"],
              case .object(let manifest)? = record["manifest"], case .string(let name)? = manifest["name"] else {
            throw RunError("\(directory.manifestFile): not a ctpipe run record")
        }
        var data = ReportData(runID: directory.runID(manifestName: name), runDirectory: path, manifestName: name, configurationHash: hash,
                              environment: try directory.read(EnvironmentRecord.self, from: directory.environmentFile),
                              metrics: metrics)
        data.regression = try directory.read(RegressionReport.self, from: path + "/regression.json")

        var database = historyDatabase
        if database == nil, let bytes = try? FileBytes.read(path + "/history.json"),
           case .object(let o)? = try? JSONValue.parse(bytes, path: path), case .string(let db)? = o["db"] {
            database = db
        }
        if let database, FileManager.default.fileExists(atPath: database) {
            let store = try HistoryStore(path: database, create: false)
            // The runs of this run's seed (each seed of a sweep has its own trend).
            let seed = try store.run(id: data.runID)?.seed
            data.history = try store.runs(manifest: name, seed: seed, last: historyLimit)
            data.historyDatabase = database
        }
        data.loss = try trainingLoss(path + "/train_log.jsonl")
        data.gallery = try gallery(directory, configurationHash: hash)
        return data
    }

    /// `iteration` / `loss` pairs of train_log.jsonl (other lines are skipped); empty when absent.
    static func trainingLoss(_ file: String) throws -> [LossPoint] {
        guard FileManager.default.fileExists(atPath: file) else { return [] }
        var points: [LossPoint] = []
        for line in String(decoding: try FileBytes.read(file), as: UTF8.self).split(separator: "\n") where !line.isEmpty {
            guard case .object(let o)? = try? JSONValue.parse(Array(line.utf8), path: file) else { continue }
            let loss: Double?
            switch o["loss"] {
            case .double(let v)?: loss = v
            case .int(let v)?: loss = Double(v)
            default: loss = nil
            }
            guard case .int(let iteration)? = o["iteration"], let loss, loss.isFinite else { continue }
            points.append(LossPoint(iteration: iteration, loss: loss))
        }
        return points.sorted { $0.iteration < $1.iteration }
    }

    /// The worst images per group, read from the shard records and the thumbnails.
    static func gallery(_ directory: RunDirectory, configurationHash: String) throws -> [String: [GalleryItem]] {
        let root = directory.path + "/shards"
        var candidates: [String: [(dataset: String, score: SampleScore)]] = [:]
        var seen = Set<String>()
        for dataset in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() {
            for file in ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(dataset)")) ?? []).sorted()
            where file.hasSuffix(".json") {
                guard let record = try directory.read(ShardRecord.self, from: "\(root)/\(dataset)/\(file)"),
                      record.configurationHash == configurationHash else { continue }
                let chosen = Set(record.gallery ?? [])
                for score in record.scores ?? [] where chosen.contains(score.id) {
                    guard seen.insert("\(record.dataset)\u{0}\(score.id)").inserted else { continue }
                    candidates[score.group, default: []].append((record.dataset, score))
                }
            }
        }
        var gallery: [String: [GalleryItem]] = [:]
        for (group, list) in candidates {
            var items: [GalleryItem] = []
            for (dataset, score) in list.sorted(by: { SampleScore.worse($0.score, $1.score) }).prefix(ShardGallery.size) {
                guard let stem = try? directory.galleryFile(dataset: dataset, id: score.id) else { continue }
                let base = directory.folder.joined(stem)
                guard let image = try? FileBytes.read(base + ".image.png"), let truth = try? FileBytes.read(base + ".truth.png"),
                      let prediction = try? FileBytes.read(base + ".prediction.png") else { continue }
                items.append(GalleryItem(dataset: dataset, group: group, id: score.id, mIoU: score.mIoU, aAcc: score.aAcc,
                                         image: image, truth: truth, prediction: prediction))
            }
            gallery[group] = items
        }
        return gallery
    }
}
