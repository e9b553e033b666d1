// GroupNorm.swift — nn.GroupNorm over channel-major planes (C, H·W), with an
// optional ReLU fused into the affine pass (mmcv ConvModule's norm + act).
//
// Each group of C / G consecutive channels is one contiguous block of
// (C / G)·H·W values: its mean, then the centred sum of squares (two passes,
// double accumulators), biased variance as torch; then
// y = (x - mean) / sqrt(var + eps) · weight[c] + bias[c]. Groups are split over
// `threads` chunks; each group is reduced on one thread in a fixed order.
// Training keeps each group's mean and 1/sqrt(var + eps) (GroupNormSaved; the
// input x is kept by the caller); the backward pass follows the forward.

import Tensor

/// What a GroupNorm forward keeps for its backward pass: per group the mean and
/// 1/sqrt(var + eps) (groups floats each). The input x is kept by the caller.
public struct GroupNormSaved {
    public let mean: UnsafeMutablePointer<Float>
    public let rstd: UnsafeMutablePointer<Float>
    public init(mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        self.mean = mean
        self.rstd = rstd
    }
}

public struct GroupNorm: Sendable, ParameterWalkable {
    public let groups: Int
    public let channels: Int
    public let eps: Float
    public var weight: Parameter
    public var bias: Parameter

    /// A layer whose parameters a walk binds later (eps: nn.GroupNorm's default 1e-5).
    public init(groups: Int, channels: Int, eps: Float = 1e-5) {
        precondition(groups > 0 && channels > 0 && channels % groups == 0, "GroupNorm: \(channels) channels in \(groups) groups")
        self.groups = groups
        self.channels = channels
        self.eps = eps
        weight = Parameter(unbound: [channels])
        bias = Parameter(unbound: [channels])
    }

    /// No weight decay on norms.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&weight, "weight", in: scope, decay: false)
        try v.visit(&bias, "bias", in: scope, decay: false)
    }

    /// y (C, spatial) = GroupNorm(x), then max(·, 0) when `relu`. `y` may alias `x`. With `keep`
    /// each group's statistics are written there too (the same values the output uses).
    public func forward(_ x: UnsafePointer<Float>, spatial n: Int, into y: UnsafeMutablePointer<Float>, relu: Bool = false,
                        threads: Int, keep: GroupNormSaved? = nil) {
        let perGroup = channels / groups, count = perGroup * n, eps = Double(self.eps)
        guard n > 0 else { return }
        weight.withUnsafeBufferPointer { wt in
            bias.withUnsafeBufferPointer { bs in
                let wt = wt.baseAddress!, bs = bs.baseAddress!
                Threading.parallelFor(groups, threads: threads) { range in
                    for g in range {
                        let src = x + g * count, dst = y + g * count
                        var sum = 0.0
                        for i in 0 ..< count { sum += Double(src[i]) }
                        let mean = sum / Double(count)
                        var squares = 0.0
                        for i in 0 ..< count { let d = Double(src[i]) - mean; squares += d * d }
                        let rstd = 1 / (squares / Double(count) + eps).squareRoot()
                        if let keep {
                            keep.mean[g] = Float(mean)
                            keep.rstd[g] = Float(rstd)
                        }
                        for j in 0 ..< perGroup {
                            let c = g * perGroup + j
                            let scale = Float(rstd * Double(wt[c])), shift = bs[c] - Float(mean * rstd * Double(wt[c]))
                            let s = src + j * n, d = dst + j * n
                            if relu {
                                for i in 0 ..< n { d[i] = max(s[i] * scale + shift, 0) }
                            } else {
                                for i in 0 ..< n { d[i] = s[i] * scale + shift }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Backward of y = GroupNorm(x) (then ReLU when `relu`), in place: `dy` (C, spatial) becomes dx.
    /// `x`: the forward's input, `saved`: its statistics. With `gradients` the weight and bias
    /// gradients are added there. Groups split over `threads` chunks; each group (and so each
    /// channel's parameter gradient) is reduced on one thread in a fixed order, so the result
    /// does not depend on the thread count.
    ///   x̂ = (x - mean)·rstd, g = dy·weight (zero where the ReLU cut),
    ///   dx = rstd·(g - mean(g) - x̂·mean(g·x̂)) over the group.
    public func backward(_ dy: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, saved: GroupNormSaved, spatial n: Int,
                         relu: Bool = false, gradients: ParameterGradients?, threads: Int) {
        let perGroup = channels / groups, count = perGroup * n
        guard n > 0 else { return }
        let dWeight = gradients?[weight], dBias = gradients?[bias]
        weight.withUnsafeBufferPointer { wt in
            bias.withUnsafeBufferPointer { bs in
                let wt = wt.baseAddress!, bs = bs.baseAddress!
                Threading.parallelFor(groups, threads: threads) { range in
                    for g in range {
                        let mean = saved.mean[g], rstd = saved.rstd[g]
                        var sumG = 0.0, sumGX = 0.0
                        for j in 0 ..< perGroup {
                            let c = g * perGroup + j, w = wt[c], b = bs[c]
                            let src = x + c * n, d = dy + c * n
                            var dw = 0.0, db = 0.0
                            for i in 0 ..< n {
                                let xhat = (src[i] - mean) * rstd
                                if relu && xhat * w + b <= 0 { d[i] = 0; continue }
                                let v = d[i]
                                dw += Double(v * xhat)
                                db += Double(v)
                            }
                            dWeight?[c] += Float(dw)
                            dBias?[c] += Float(db)
                            sumG += db * Double(w)
                            sumGX += dw * Double(w)
                        }
                        let meanG = Float(sumG / Double(count)), meanGX = Float(sumGX / Double(count))
                        for j in 0 ..< perGroup {
                            let c = g * perGroup + j, w = wt[c]
                            let src = x + c * n, d = dy + c * n
                            for i in 0 ..< n {
                                let xhat = (src[i] - mean) * rstd
                                d[i] = rstd * (d[i] * w - meanG - xhat * meanGX)
                            }
                        }
                    }
                }
            }
        }
    }
}
