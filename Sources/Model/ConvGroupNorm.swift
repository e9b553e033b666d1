// ConvGroupNorm.swift — mmcv's ConvModule with a GroupNorm: convolution,
// GroupNorm, optionally ReLU. Checkpoint names: `conv.{weight,bias}` (the bias
// only when the module was built with one) and `gn.{weight,bias}` (mmcv names a
// GroupNorm layer "gn").

import Tensor

public struct ConvGroupNorm: Sendable, ParameterWalkable {
    public var conv: Conv2d
    public var norm: GroupNorm
    /// ReLU after the norm (act_cfg ReLU); false for act_cfg None.
    public let relu: Bool

    /// A layer whose parameters a walk binds later.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, convBias: Bool, groups: Int, relu: Bool) {
        conv = Conv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize, bias: convBias)
        norm = GroupNorm(groups: groups, channels: outChannels)
        self.relu = relu
    }

    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try conv.walkParameters(&v, scope.child("conv"))
        try norm.walkParameters(&v, scope.child("gn"))
    }

    /// Floats of scratch `forward` needs for an H x W input.
    public func scratchCount(height h: Int, width w: Int) -> Int { conv.scratchCount(height: h, width: w) }

    /// x (in, H, W) -> y (out, H, W), channel-major; must not overlap.
    public func forward(_ x: UnsafePointer<Float>, height h: Int, width w: Int, scratch: UnsafeMutablePointer<Float>?,
                        into y: UnsafeMutablePointer<Float>, threads: Int) {
        conv.forward(x, height: h, width: w, scratch: scratch, into: y, threads: threads)
        norm.forward(y, spatial: h * w, into: y, relu: relu, threads: threads)
    }
}
