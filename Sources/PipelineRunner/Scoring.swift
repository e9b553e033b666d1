// Scoring.swift — scoring existing predictions against a dataset's labels,
// shared by the runner's `predictions` + `metric` stages and `ctpipe metric`.

import Datasets
import Dispatch
import Foundation
import ImageIO
import Metrics
import RunFolder

public enum Scoring {
    /// The metrics group of a sample: the dataset name, or `<name>/<condition>`
    /// for ACDC read over all conditions (each condition is reported alone).
    public static func group(of sample: Sample, name: String, perCondition: Bool) -> String {
        if perCondition, let condition = sample.metadata.condition { return "\(name)/\(condition.rawValue)" }
        return name
    }

    /// Loads a sample's trainId label and its prediction, checking their sizes agree.
    public static func pair(_ sample: Sample, dataset: String, predictions: PredictionFolder) throws(RunProblem) -> (prediction: LabelMap, label: LabelMap) {
        let label: LabelMap
        do { label = try sample.loadLabel(limits: predictions.limits) } catch { throw RunProblem(dataset: dataset, sample: sample.id, error) }
        let prediction = try predictions.load(id: sample.id, dataset: dataset)
        guard prediction.width == label.width, prediction.height == label.height else {
            throw RunProblem(dataset: dataset, sample: sample.id, file: predictions.file(for: sample.id) ?? sample.id,
                             kind: "size_mismatch",
                             message: "prediction is \(prediction.width)x\(prediction.height) but the label is \(label.width)x\(label.height)")
        }
        return (prediction, label)
    }

    /// Scores every sample in parallel (`workers` Dispatch workers over
    /// contiguous blocks, merged in block order: exact and order-independent).
    /// Failing samples are returned as problems and counted as skipped.
    public static func score(_ samples: [Sample], name: String, perCondition: Bool, predictions: PredictionFolder,
                             workers: Int) throws -> (report: MetricsReport, problems: [RunProblem]) {
        // Four blocks per worker, at most one per sample (workers capped first: no overflow).
        let blocks = max(1, min(min(max(workers, 1), samples.count) * 4, samples.count))
        let jobs = (0 ..< blocks).map { ShardID(dataset: name, index: $0, count: blocks) }
        let results = ShardPool.run(jobs, workers: workers) { shard -> Result<(MetricsReport, [RunProblem]), MetricsError> in
            var groups: [String: DatasetMetrics] = [:]
            var problems: [RunProblem] = []
            for i in shard.range(samples: samples.count) {
                let sample = samples[i]
                let loaded: (prediction: LabelMap, label: LabelMap)
                let key = group(of: sample, name: name, perCondition: perCondition)
                do throws(RunProblem) { loaded = try pair(sample, dataset: name, predictions: predictions) } catch {
                    problems.append(error)
                    groups[key, default: DatasetMetrics(name: key)].skipped += 1
                    continue
                }
                do throws(MetricsError) {
                    try groups[key, default: DatasetMetrics(name: key)].accumulate(prediction: loaded.prediction.pixels,
                                                                                   label: loaded.label.pixels)
                } catch { return .failure(error) }
            }
            return .success((MetricsReport(datasets: groups.keys.sorted().map { groups[$0]! }, partial: true), problems))
        }
        var report = MetricsReport()
        var problems: [RunProblem] = []
        for result in results {
            let (part, failed) = try result.get()
            try report.merge(part)
            problems += failed
        }
        report.partial = false
        report.datasets.sort { $0.name < $1.name }
        return (report, problems)
    }
}
