// Threading.swift — the one threading model of ctpipe's numerics.
//
// Two kinds of threads do arithmetic: OpenBLAS's own pool (inside cblas_sgemm)
// and Dispatch workers (the runner's per-sample workers, and the chunks of the
// elementwise kernels here). They must never multiply: the product of
// concurrent samples and threads per sample stays at or below the core count.
//
//   * One sample at a time (`workers == 1`, the CLI default and training):
//     OpenBLAS gets `threadsPerWorker` threads, and the elementwise kernels
//     (LayerNorm, softmax, GELU, ...) split their rows over as many Dispatch
//     chunks. GEMMs and kernels alternate, never overlap, so at most
//     `threadsPerWorker` threads compute at any time.
//   * Several samples at once (`workers > 1`): every worker runs a whole forward
//     on its own thread; OpenBLAS is set to one thread and kernels do not split.
//     (OpenBLAS's pthread pool is process-global: concurrent multithreaded calls
//     from several workers would serialise on its lock, so single-threaded BLAS
//     per worker is the scalable choice.)
//
// Attention is the one place where the threads of a sample work on many small
// GEMMs: `withSingleThreadedBLAS` drops OpenBLAS to one thread while the
// kernel threads each run their own share of (head, query block) products with
// single-threaded sgemm, and restores it afterwards — still never more than
// `threadsPerWorker` threads computing.
//
// `setBLASThreads` (called by `configure` and `withSingleThreadedBLAS`) is the
// only place that calls `openblas_set_num_threads`. If nothing configures it,
// the first kernel configures one worker over all cores (this also overrides
// any OPENBLAS_NUM_THREADS in the environment).
// Results do not depend on the thread count beyond float rounding inside GEMM:
// every kernel here reduces within one row on one thread.

import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// How the cores are shared: concurrent samples x threads inside a sample.
public struct ThreadPlan: Sendable, Equatable, CustomStringConvertible {
    /// Samples processed concurrently (the runner's Dispatch workers).
    public let workers: Int
    /// Threads inside one sample: OpenBLAS threads and kernel chunks.
    public let threadsPerWorker: Int

    /// A plan for `workers` concurrent samples on `cores` cores (default: all).
    /// One worker gets every core; several workers get one thread each.
    public init(workers: Int = 1, cores: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(workers >= 1 && cores >= 1, "ThreadPlan: workers \(workers), cores \(cores)")
        self.workers = workers
        self.threadsPerWorker = workers == 1 ? cores : 1
    }

    /// One sample with exactly `threads` threads (benchmarks, tests).
    public static func singleSample(threads: Int) -> ThreadPlan {
        ThreadPlan(workers: 1, cores: threads)
    }

    public var description: String { "\(workers) worker(s) x \(threadsPerWorker) thread(s)" }
}

public enum Threading {
    private static let kernelThreadCount = Atomic<Int>(0)
    private static let workerCount = Atomic<Int>(0)
    private static let configureLock = Mutex<Void>(())

    /// Applies a plan: sets OpenBLAS's thread count and the kernel split.
    /// Call before starting work (not while a forward pass runs).
    public static func configure(_ plan: ThreadPlan) {
        configureLock.withLock { _ in
            setBLASThreads(plan.threadsPerWorker)
            workerCount.store(plan.workers, ordering: .relaxed)
            kernelThreadCount.store(plan.threadsPerWorker, ordering: .releasing)
        }
    }

    /// The plan in force (configuring the default one if none was set).
    public static var plan: ThreadPlan {
        let threads = kernelThreads
        let workers = workerCount.load(ordering: .relaxed)
        return workers == 1 ? .singleSample(threads: threads) : ThreadPlan(workers: workers, cores: threads * workers)
    }

    /// Chunks an elementwise kernel may split into (= BLAS threads).
    public static var kernelThreads: Int {
        let n = kernelThreadCount.load(ordering: .acquiring)
        if n > 0 { return n }
        configureLock.withLock { _ in
            if kernelThreadCount.load(ordering: .acquiring) == 0 {
                let cores = ProcessInfo.processInfo.activeProcessorCount
                setBLASThreads(cores)
                workerCount.store(1, ordering: .relaxed)
                kernelThreadCount.store(cores, ordering: .releasing)
            }
        }
        return kernelThreadCount.load(ordering: .acquiring)
    }

    /// The one caller of `openblas_set_num_threads`.
    private static func setBLASThreads(_ n: Int) {
        openblas_set_num_threads(Int32(n))
    }

    /// Runs `body` with OpenBLAS on one thread, then restores the plan's count.
    /// Only for a single sample's forward pass (the plan's one worker), whose
    /// kernel threads then call sgemm concurrently, one thread each.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        let threads = kernelThreads
        if threads == 1 { return try body() }
        setBLASThreads(1)
        defer { setBLASThreads(threads) }
        return try body()
    }

    /// Runs `body(worker)` once for each of `workers` workers concurrently
    /// (workers <= kernelThreads); each worker strides over its share of the work.
    @inlinable
    public static func forEachWorker(_ workers: Int, _ body: (Int) -> Void) {
        if workers <= 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendableWorker(run: body)
            DispatchQueue.concurrentPerform(iterations: workers) { shared.run($0) }
        }
    }

    /// Runs `body` over `0..<count` split into contiguous ranges, one per
    /// kernel thread, using fewer chunks when a chunk would hold less than
    /// `grain` items. Ranges are disjoint; `body` must only write inside its own.
    @inlinable
    public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(kernelThreads, max(1, count / max(grain, 1)))
        if chunks == 1 {
            body(0 ..< count)
            return
        }
        // concurrentPerform wants a @Sendable closure; `body` is not (it captures
        // raw pointers). It is safe to share: concurrentPerform returns only after
        // every chunk ran, and chunks write disjoint ranges (the contract above).
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendableBody(run: body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let lower = count * chunk / chunks
                let upper = count * (chunk + 1) / chunks
                if lower < upper { shared.run(lower ..< upper) }
            }
        }
    }
}

@usableFromInline
struct UncheckedSendableWorker: @unchecked Sendable {
    @usableFromInline let run: (Int) -> Void
    @usableFromInline init(run: @escaping (Int) -> Void) { self.run = run }
}

@usableFromInline
struct UncheckedSendableBody: @unchecked Sendable {
    @usableFromInline let run: (Range<Int>) -> Void
    @usableFromInline init(run: @escaping (Range<Int>) -> Void) { self.run = run }
}
