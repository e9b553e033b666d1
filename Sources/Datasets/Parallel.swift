// Parallel.swift — index-addressed parallel map over Dispatch: every iteration
// writes only its own slot, so results do not depend on thread scheduling.

import Dispatch
import Foundation

public enum Parallel {
    /// `(0..<count).map(body)`, evaluated with `DispatchQueue.concurrentPerform`.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let slots = Slots<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { index in
            slots.store(body(index), at: index)
        }
        return slots.collect()
    }

    /// Runs `other` on a thread of its own while `here` runs on the calling thread, and returns both
    /// results once both have finished (`here` may use the caller's state: it runs synchronously).
    /// Not a Dispatch pool thread: callers wait here from inside `concurrentPerform` workers, and a
    /// pool whose threads all wait could not run `other`.
    public static func beside<A: Sendable, B>(_ other: @escaping @Sendable () -> A, _ here: () -> B) -> (A, B) {
        let slot = Slots<A>(count: 1), done = DispatchSemaphore(value: 0)
        Thread {
            slot.store(other(), at: 0)
            done.signal()
        }.start()
        let b = here()
        done.wait()
        return (slot.collect()[0], b)
    }

    /// Splits `0..<count` into at most `chunks` contiguous ranges of near-equal size.
    static func ranges(_ count: Int, chunks: Int) -> [Range<Int>] {
        guard count > 0 else { return [] }
        let n = max(1, min(chunks, count))
        return (0 ..< n).map { k in (k * count / n) ..< ((k + 1) * count / n) }
    }
}

/// Result slots written once each by distinct iterations; read after all finished.
private final class Slots<T>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil, count: count)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    func store(_ value: T, at index: Int) { storage[index] = value }

    func collect() -> [T] { (0 ..< count).map { storage[$0]! } }
}
