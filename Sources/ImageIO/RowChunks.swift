// RowChunks.swift — the split of an image's rows over a sample's threads, for
// the row-independent passes outside the model (the exact halving of
// `Resize.bilinear`, Augment's `Normalize`).

import Dispatch

public enum RowChunks {
    /// Calls `body` on contiguous ranges covering `0..<rows`: up to `threads` of them at once,
    /// each at least 16 rows; a single range runs on the calling thread.
    public static func forEach(_ rows: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = max(1, min(threads, rows / 16))
        if chunks == 1 {
            body(0 ..< rows)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { k in body(k * rows / chunks ..< (k + 1) * rows / chunks) }
    }
}
