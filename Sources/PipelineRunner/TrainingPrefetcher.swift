// TrainingPrefetcher.swift — decodes and augments the next training examples
// on a Dispatch queue while the current iteration computes.
//
// Positions are produced in order, at most `capacity` ahead of the consumer;
// each example depends only on its position (TrainingData), so prefetching
// changes timing, never values. The producer is one extra thread beside the
// compute threads (decode + augmentation of one crop is small next to a
// forward and backward pass).

import Dispatch
import Foundation
import Training

final class TrainingPrefetcher: @unchecked Sendable {
    private let data: TrainingData
    private let capacity: Int
    private let condition = NSCondition()
    private var ready: [Int: Result<TrainingExample, any Error>] = [:]
    private var produced: Int
    private var consumed: Int
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// Starts producing from stream position `start`.
    init(data: TrainingData, start: Int, capacity: Int) {
        self.data = data
        self.capacity = max(1, capacity)
        produced = start
        consumed = start
        DispatchQueue.global().async { [self] in produce() }
    }

    private func produce() {
        var epoch = -1
        var order: [Int] = []
        while true {
            condition.lock()
            while !stopped && produced - consumed >= capacity { condition.wait() }
            if stopped { condition.unlock(); break }
            let position = produced
            condition.unlock()
            let e = position / data.samples.count
            if e != epoch { order = data.order(epoch: e); epoch = e }
            let result = Result { try data.example(at: position, order: order) }
            condition.lock()
            ready[position] = result
            produced += 1
            condition.broadcast()
            condition.unlock()
        }
        finished.signal()
    }

    /// The example at the next position (positions are taken in order).
    func next() throws -> TrainingExample {
        condition.lock()
        let position = consumed
        while ready[position] == nil { condition.wait() }
        let result = ready.removeValue(forKey: position)!
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
