// PointSampling.swift — the point sampling of the Mask2Former loss: random
// points in the unit square, their bilinear values on a map (mmcv's
// `point_sample`, i.e. `grid_sample(2p - 1, align_corners=False,
// padding_mode="zeros")`), the backward of that sampling, and the importance
// sampling of mmcv/mmdet's `get_uncertain_point_coords_with_randomness`.
//
// Random draws. Every coordinate is one draw of the caller's SplitMix64:
// `Float(next() >> 40) * 2^-24`, the top 24 bits as a float in [0, 1) (exact
// in float32). A point is two draws, x (along the width) first, then y. A
// block of points for several masks is drawn mask by mask, as
// `torch.rand(masks, points, 2)` lays them out.
//
// Bilinear taps. For a point p = (x, y) on an h x w map, as PyTorch computes it
// in float32: g = 2p - 1, ix = ((g_x + 1)·w - 1) / 2, iy likewise; the four
// taps are (floor(iy) + {0,1}, floor(ix) + {0,1}) with the usual bilinear
// weights, and a tap outside the map counts as 0 (it keeps its weight 0 and
// points at element 0, so sums need no branch).

import CTCore

/// One point's four bilinear taps on a map: element offsets and weights
/// (a tap outside the map has weight 0 and offset 0).
public struct BilinearTaps: Sendable, Equatable {
    public var offsets: (Int32, Int32, Int32, Int32)
    public var weights: (Float, Float, Float, Float)

    public static func == (a: BilinearTaps, b: BilinearTaps) -> Bool {
        a.offsets == b.offsets && a.weights == b.weights
    }

    /// The taps of point (x, y) in [0, 1)² on a `height` x `width` map (see the file comment).
    @inlinable
    public init(x: Float, y: Float, height: Int, width: Int) {
        let gx = 2 * x - 1, gy = 2 * y - 1
        let ix = ((gx + 1) * Float(width) - 1) / 2
        let iy = ((gy + 1) * Float(height) - 1) / 2
        let x0 = ix.rounded(.down), y0 = iy.rounded(.down)
        let fx = ix - x0, fy = iy - y0
        let ex = (x0 + 1) - ix, ey = (y0 + 1) - iy
        let c0 = Int(x0), r0 = Int(y0)
        func tap(_ r: Int, _ c: Int, _ w: Float) -> (Int32, Float) {
            r >= 0 && r < height && c >= 0 && c < width ? (Int32(r * width + c), w) : (0, 0)
        }
        let nw = tap(r0, c0, ex * ey), ne = tap(r0, c0 + 1, fx * ey)
        let sw = tap(r0 + 1, c0, ex * fy), se = tap(r0 + 1, c0 + 1, fx * fy)
        offsets = (nw.0, ne.0, sw.0, se.0)
        weights = (nw.1, ne.1, sw.1, se.1)
    }

    /// The bilinear value of `map` at the point.
    @inlinable
    public func sample(_ map: UnsafePointer<Float>) -> Float {
        map[Int(offsets.0)] * weights.0 + map[Int(offsets.1)] * weights.1
            + map[Int(offsets.2)] * weights.2 + map[Int(offsets.3)] * weights.3
    }

    /// The bilinear value at the point of the binary mask `label == value`.
    @inlinable
    public func sample(label: UnsafePointer<UInt8>, equalTo value: UInt8) -> Float {
        var s: Float = 0
        if label[Int(offsets.0)] == value { s += weights.0 }
        if label[Int(offsets.1)] == value { s += weights.1 }
        if label[Int(offsets.2)] == value { s += weights.2 }
        if label[Int(offsets.3)] == value { s += weights.3 }
        return s
    }

    /// The backward of `sample(_:)`: adds `gradient` times each weight into its tap.
    @inlinable
    public func scatter(_ gradient: Float, into map: UnsafeMutablePointer<Float>) {
        map[Int(offsets.0)] += gradient * weights.0
        map[Int(offsets.1)] += gradient * weights.1
        map[Int(offsets.2)] += gradient * weights.2
        map[Int(offsets.3)] += gradient * weights.3
    }
}

public enum PointSampling {
    /// One coordinate in [0, 1): the top 24 bits of the next draw, times 2^-24.
    @inlinable
    public static func uniformCoordinate(_ random: inout SplitMix64) -> Float {
        Float(random.next() >> 40) * 0x1p-24
    }

    /// `count` points drawn from `random`: 2·count coordinates, (x, y) per point.
    public static func uniformPoints(_ count: Int, _ random: inout SplitMix64) -> [Float] {
        var points = [Float](repeating: 0, count: 2 * count)
        for i in 0 ..< 2 * count { points[i] = uniformCoordinate(&random) }
        return points
    }

    /// Importance sampling of one mask (mmcv's `get_uncertain_point_coords_with_randomness`
    /// without its random draws): of the `candidateCount` candidate points (x, y pairs), the
    /// `importantCount` most uncertain on `logits` (uncertainty −|bilinear logit|; equal
    /// uncertainties taken in candidate order), written as (x, y) pairs into `output` in
    /// candidate order. mmcv's top-k leaves the order of equal values unspecified; the loss
    /// sums over points, so only the chosen set matters.
    /// `scratch` holds at least `2 * candidateCount` floats.
    public static func selectUncertain(candidates: UnsafePointer<Float>, candidateCount: Int, importantCount: Int,
                                       logits: UnsafePointer<Float>, height: Int, width: Int,
                                       output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        precondition(importantCount >= 0 && importantCount <= candidateCount, "selectUncertain: \(importantCount) of \(candidateCount)")
        if importantCount == 0 { return }
        let magnitude = scratch, work = scratch + candidateCount
        for i in 0 ..< candidateCount {
            let taps = BilinearTaps(x: candidates[2 * i], y: candidates[2 * i + 1], height: height, width: width)
            magnitude[i] = abs(taps.sample(logits))
        }
        // The importantCount most uncertain are the importantCount smallest |logit|.
        work.update(from: magnitude, count: candidateCount)
        let threshold = kthSmallest(work, count: candidateCount, k: importantCount - 1)
        var below = 0
        for i in 0 ..< candidateCount where magnitude[i] < threshold { below += 1 }
        var tiesLeft = importantCount - below
        var n = 0
        for i in 0 ..< candidateCount {
            let m = magnitude[i]
            if m < threshold || (m == threshold && tiesLeft > 0) {
                if m == threshold { tiesLeft -= 1 }
                output[2 * n] = candidates[2 * i]
                output[2 * n + 1] = candidates[2 * i + 1]
                n += 1
            }
        }
    }

    /// The k-th smallest (0-based) of `count` non-NaN values; reorders them. Quickselect with a
    /// three-way partition around the median of three (linear on average, many ties included).
    static func kthSmallest(_ values: UnsafeMutablePointer<Float>, count: Int, k: Int) -> Float {
        var lo = 0, hi = count - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let a = values[lo], b = values[mid], c = values[hi]
            let pivot = max(min(a, b), min(max(a, b), c))
            // [lo, lt) < pivot, [lt, i) == pivot, (gt, hi] > pivot.
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                let value = values[i]
                if value < pivot {
                    values.swapAt(lt, i); lt += 1; i += 1
                } else if value > pivot {
                    values.swapAt(i, gt); gt -= 1
                } else {
                    i += 1
                }
            }
            if k < lt { hi = lt - 1 } else if k > gt { lo = gt + 1 } else { return pivot }
        }
        return values[lo]
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inlinable
    func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
