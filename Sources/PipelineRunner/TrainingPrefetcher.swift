// TrainingPrefetcher.swift — decodes and augments the next training examples
// on a Dispatch queue while the current iteration computes.
//
// Positions are produced in order, at most `capacity` ahead of the consumer;
// each example depends only on its position (TrainingData), so prefetching
// changes timing, never values. The producer is one extra thread beside the
// compute threads (decode + augmentation of one crop is small next to a
// forward and backward pass).
//
// In a job of several processes each rank prefetches only its share of every
// iteration (StreamShare): positions r, r + N, ... of the iteration's
// batch_size x accumulate.

import Dispatch
import Foundation
import Training

/// Which stream positions one rank of `ranks` takes: of every iteration's `perIteration` positions,
/// those at r, r + ranks, r + 2 ranks, ... (the iteration's data does not depend on the rank count).
struct StreamShare: Sendable, Equatable {
    let perIteration: Int
    let rank: Int
    let ranks: Int

    /// The whole stream (one process).
    static func whole(perIteration: Int) -> StreamShare { StreamShare(perIteration: perIteration, rank: 0, ranks: 1) }

    /// Positions this rank takes per iteration.
    var count: Int { rank < perIteration ? (perIteration - rank + ranks - 1) / ranks : 0 }
    /// Most positions a rank takes per iteration (every rank's slots in the exchanges).
    var slots: Int { (perIteration + ranks - 1) / ranks }

    /// Stream position of this rank's `k`-th example (counting over all iterations).
    func position(_ k: Int) -> Int { (k / count) * perIteration + rank + (k % count) * ranks }
}

final class TrainingPrefetcher: @unchecked Sendable {
    private let data: TrainingData
    private let share: StreamShare
    private let capacity: Int
    private let condition = NSCondition()
    private var ready: [Int: Result<TrainingExample, any Error>] = [:]
    private var produced: Int
    private var consumed: Int
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// Starts producing this rank's share from iteration `iteration`.
    init(data: TrainingData, share: StreamShare, iteration: Int, capacity: Int) {
        self.data = data
        self.share = share
        self.capacity = max(1, capacity)
        produced = iteration * share.count
        consumed = produced
        DispatchQueue.global().async { [self] in produce() }
    }

    private func produce() {
        var epoch = -1
        var order: [Int] = []
        while true {
            condition.lock()
            while !stopped && produced - consumed >= capacity { condition.wait() }
            if stopped { condition.unlock(); break }
            let index = produced
            condition.unlock()
            let position = share.position(index)
            let e = position / data.samples.count
            if e != epoch { order = data.order(epoch: e); epoch = e }
            let result = Result { try data.example(at: position, order: order) }
            condition.lock()
            ready[index] = result
            produced += 1
            condition.broadcast()
            condition.unlock()
        }
        finished.signal()
    }

    /// The example at this rank's next position (positions are taken in order).
    func next() throws -> TrainingExample {
        condition.lock()
        let index = consumed
        while ready[index] == nil { condition.wait() }
        let result = ready.removeValue(forKey: index)!
        consumed += 1
        condition.broadcast()
        condition.unlock()
        return try result.get()
    }

    /// Stops the producer and waits for it.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }
}
