// Shards.swift — the bounded Dispatch pool that runs shards (ShardID, in
// RunFolder, says which samples a shard owns), `--shard i/N`, the stop flag.
// Results are kept by shard index and merged in index order, so they never
// depend on the number of workers or on scheduling.

import Dispatch
import Foundation
import ManifestSchema
import Synchronization

/// `--shard i/N`: which one shard to run, 0-based index.
public struct ShardSelection: Sendable, Equatable {
    public var index: Int
    public var count: Int
    /// Parses "i/N" with 0 <= i < N and N within the shard counts a manifest accepts
    /// (`Manifest.ExecutionSpec.shardRange`).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]),
              Manifest.ExecutionSpec.shardRange.contains(n), (0 ..< n).contains(i) else { return nil }
        index = i
        count = n
    }
}

/// A flag set by SIGINT/SIGTERM (or a test): workers finish the sample in hand
/// and stop; unfinished shards leave no completion record and are redone on resume.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { flag.load(ordering: .acquiring) }
    public func set() { flag.store(true, ordering: .releasing) }
}

/// The run was stopped by a signal before all shards finished.
public struct RunInterrupted: Error, CustomStringConvertible {
    public let runDirectory: String
    public var description: String {
        "stopped before all shards finished; completed shards are kept. Continue with: ctpipe run MANIFEST --resume (run folder \(runDirectory))"
    }
}

/// Which of a run's pending (dataset, shard) jobs each process of a job of several evaluates:
/// rank r takes jobs r, r + N, r + 2N, ... of the list (in the list's order). Deterministic, and
/// every job goes to exactly one rank; one process takes them all.
public struct ShardAssignment: Sendable, Equatable {
    public let jobs: Int
    public let ranks: Int
    public init(jobs: Int, ranks: Int) {
        self.jobs = max(0, jobs)
        self.ranks = max(1, ranks)
    }

    /// The indices into the job list that `rank` evaluates.
    public func jobs(of rank: Int) -> [Int] {
        guard (0 ..< ranks).contains(rank) else { return [] }
        return Array(stride(from: rank, to: jobs, by: ranks))
    }
}

public enum ShardPool {
    /// Runs `body` for each job on at most `workers` Dispatch workers (static
    /// striding: worker w takes jobs w, w+workers, ...). Returns one result per
    /// job, in job order.
    public static func run<Job: Sendable, R: Sendable>(_ jobs: [Job], workers: Int,
                                                      _ body: @Sendable (Job) -> R) -> [R] {
        run(jobs, workers: workers, lane: {}) { job, _ in body(job) }
    }

    /// `run` with per-worker state: each worker makes its own with `lane` before its first job and
    /// passes it to every job it takes (buffers that outlive one job, such as a SegmenterWorkspace's
    /// model arenas, which would otherwise be allocated and faulted in again for every shard).
    public static func run<Job: Sendable, Lane, R: Sendable>(_ jobs: [Job], workers: Int, lane makeLane: @Sendable () -> Lane,
                                                            _ body: @Sendable (Job, Lane) -> R) -> [R] {
        let n = jobs.count
        guard n > 0 else { return [] }
        let lanes = max(1, min(workers, n))
        let results = Mutex<[R?]>(Array(repeating: nil, count: n))
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            let state = makeLane()
            for i in stride(from: lane, to: n, by: lanes) {
                let r = body(jobs[i], state)
                results.withLock { $0[i] = r }
            }
        }
        return results.withLock { $0.map { $0! } }
    }
}
