// Threading.swift — the one threading model of ctpipe's numerics.
//
// OpenBLAS runs on ONE thread, always, and the
// threads of a sample are the chunks that `parallelFor` / `forEachWorker`
// split work into — the rows of a GEMM (`GEMM.linear`: one single-threaded
// sgemm per row block), the (head, query block) items of attention, the rows
// of the elementwise kernels. Those chunks run on the calling thread and on
// helper threads (CThreadPool, ct_pool.c) that stay awake for half a
// millisecond after each chunk, so the ~130 parallel regions of a window's
// forward pass do not each pay a thread wake-up (Dispatch's concurrentPerform
// cost ~45 us per region on the 2-core machines ctpipe is measured on; a call
// inside a chunk runs inline). Across samples, the runner's Dispatch workers.
// The product of concurrent samples and threads per sample stays at or below
// the core count:
//
//   * One sample at a time (`workers == 1`, the CLI default and training):
//     every step of the forward pass splits over `threadsPerWorker` chunks.
//   * Several samples at once (`workers > 1`): every worker runs a whole
//     forward pass on its own thread; nothing inside splits.
//
// Why not OpenBLAS's own pool: after each call its threads keep polling for
// work (sched_yield) for up to ~0.1 s, so they compete with the Dispatch
// chunks of the next kernel or the attention items — on 2 cores that cost
// about a third of the second core. Its pool is also process-global, so calls
// from several workers would serialise on it. One thread per sgemm call, with
// the split done here, has neither problem, and each output element is computed
// by one call (the thread count moves only the GEMM block edges, which change
// no bit with ctpipe's kernel and OpenBLAS's last-bit rounding when it runs the
// GEMMs; a batch of images is cut per image, see GEMM.linear, so its results
// equal those of its images run alone).
//
// The thread count is a value, never a global: the runner and the CLI build a
// `ThreadPlan`, workspaces (activation arenas, trainers, segmenters) are made
// with its `threadsPerWorker` and carry it, and every forward and backward
// pass hands the count of the workspace it is given to the kernels
// (`parallelFor(_:threads:grain:)` and friends). Two workspaces with
// different counts can run side by side; nothing is locked or reconfigured.
//
// `Threading.ensureSingleThreadedBLAS` (called by `GEMM.sgemm`) is the only
// place that calls `openblas_set_num_threads`, once per process, always with
// 1; this also overrides any OPENBLAS_NUM_THREADS in the environment (ctpipe
// reads none).

import COpenBLAS
import CThreadPool
import Dispatch
import Foundation

/// How the cores are shared: concurrent samples x threads inside a sample.
public struct ThreadPlan: Sendable, Equatable, CustomStringConvertible {
    /// Samples processed concurrently (the runner's Dispatch workers).
    public let workers: Int
    /// Threads inside one sample: the chunks every step splits into.
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
    /// OpenBLAS on one thread, set once for the process before the first sgemm
    /// (`GEMM.sgemm` touches it). The one caller of `openblas_set_num_threads`.
    private static let blasSingleThreaded: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Makes sure OpenBLAS runs on one thread (idempotent; the first call sets it).
    @inline(__always)
    public static func ensureSingleThreadedBLAS() {
        _ = blasSingleThreaded
    }

    /// Runs `body(worker)` once for each of `workers` workers concurrently;
    /// each worker strides over its share of the work.
    @inlinable
    public static func forEachWorker(_ workers: Int, _ body: (Int) -> Void) {
        if workers <= 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { job in
                ct_pool_run(workers, { context, worker in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(worker)
                }, job)
            }
        }
    }

    /// Runs `body` over `0..<count` split into contiguous ranges, at most
    /// `threads` of them, using fewer chunks when a chunk would hold less than
    /// `grain` items. Ranges are disjoint; `body` must only write inside its own.
    @inlinable
    public static func parallelFor(_ count: Int, threads: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = chunkCount(count, threads: threads, grain: grain)
        if chunks == 1 {
            body(0 ..< count)
            return
        }
        // Chunks write disjoint ranges (the contract above), and forEachWorker returns only after every
        // chunk ran.
        forEachWorker(chunks) { chunk in
            let lower = count * chunk / chunks
            let upper = count * (chunk + 1) / chunks
            if lower < upper { body(lower ..< upper) }
        }
    }
}

extension Threading {
    /// The chunk count `parallelFor(count, threads:, grain:)` splits into.
    @inlinable
    public static func chunkCount(_ count: Int, threads: Int, grain: Int = 1) -> Int {
        count > 0 ? min(max(threads, 1), max(1, count / max(grain, 1))) : 0
    }

    /// The ranges `parallelFor(count, threads:, grain:)` splits `0..<count` into, in order (a
    /// transform that keeps one plan per range uses them to split its channels the same way).
    public static func chunkRanges(_ count: Int, threads: Int, grain: Int = 1) -> [Range<Int>] {
        let chunks = chunkCount(count, threads: threads, grain: grain)
        return (0 ..< chunks).map { count * $0 / chunks ..< count * ($0 + 1) / chunks }.filter { !$0.isEmpty }
    }

    /// Runs `body(group, range)` over `groups` independent copies of `0..<count`,
    /// each split into exactly the ranges `parallelFor(count, threads:, grain:)`
    /// would use, with all groups x chunks items spread over `threads` workers.
    /// A batch of images uses it so every image is cut into the same pieces as
    /// when it runs alone (the results then cannot depend on the batch size).
    @inlinable
    public static func parallelForGroups(_ groups: Int, count: Int, threads: Int, grain: Int = 1,
                                         _ body: (_ group: Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, threads: threads, grain: grain)
        let items = groups * chunks
        guard items > 0 else { return }
        let workers = min(max(threads, 1), items)
        forEachWorker(workers) { worker in
            var item = worker
            while item < items {
                let group = item / chunks, chunk = item % chunks
                let lower = count * chunk / chunks, upper = count * (chunk + 1) / chunks
                if lower < upper { body(group, lower ..< upper) }
                item += workers
            }
        }
    }
}

extension Threading {
    /// `count` floats, allocated and set to zero by up to `threads` chunks at once. The pages of a
    /// fresh allocation are faulted in by the thread that first writes them, so a large arena zeroed
    /// this way is ready in about 1/threads of the time one thread takes (~35 ms of a vits window
    /// arena and score buffers on one thread). The caller deallocates.
    public static func zeroedFloats(_ count: Int, threads: Int) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        zero(buffer, threads: threads)
        return buffer
    }

    /// Sets `buffer` to zero in chunks of at least 256 KiB over up to `threads` threads (initialising
    /// it: any Float memory, bound or fresh).
    public static func zero(_ buffer: UnsafeMutableBufferPointer<Float>, threads: Int) {
        guard let base = buffer.baseAddress else { return }
        parallelFor(buffer.count, threads: threads, grain: 1 << 16) { range in
            (base + range.lowerBound).initialize(repeating: 0, count: range.count)
        }
    }
}
