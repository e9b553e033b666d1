// ConvGroupNorm.swift — mmcv's ConvModule with a GroupNorm: convolution,
// GroupNorm, optionally ReLU. Checkpoint names: `conv.{weight,bias}` (the bias
// only when the module was built with one) and `gn.{weight,bias}` (mmcv names a
// GroupNorm layer "gn").
// Training keeps the convolution's output (the norm's input) and the norm's
// statistics; the backward pass follows the forward.

import Tensor

/// What a ConvGroupNorm forward keeps for its backward pass (the convolution's input is kept by the caller).
public struct ConvGroupNormSaved {
    /// (out, H, W) the convolution's output, before the norm.
    public let convolved: UnsafeMutablePointer<Float>
    public let norm: GroupNormSaved
    public init(convolved: UnsafeMutablePointer<Float>, norm: GroupNormSaved) {
        self.convolved = convolved
        self.norm = norm
    }
}

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

    /// Floats of scratch `backward` needs for an H x W input.
    public func backwardScratchCount(height h: Int, width w: Int) -> Int { conv.backwardScratchCount(height: h, width: w) }

    /// x (in, H, W) -> y (out, H, W), channel-major; must not overlap. With `keep` the convolution
    /// writes into keep.convolved and the norm reads it from there (same values).
    public func forward(_ x: UnsafePointer<Float>, height h: Int, width w: Int, scratch: UnsafeMutablePointer<Float>?,
                        into y: UnsafeMutablePointer<Float>, threads: Int, keep: ConvGroupNormSaved? = nil) {
        let convolved = keep?.convolved ?? y
        conv.forward(x, height: h, width: w, scratch: scratch, into: convolved, threads: threads)
        norm.forward(convolved, spatial: h * w, into: y, relu: relu, threads: threads, keep: keep?.norm)
    }

    /// Backward from dy (out, H, W), overwritten (it becomes the convolution's output gradient);
    /// x: the forward's input. Parameter gradients added into `gradients`; dx (in, H, W) overwritten
    /// when given. `scratch`: backwardScratchCount(height:width:) floats (may be nil for 1x1).
    public func backward(_ dy: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, saved: ConvGroupNormSaved, height h: Int,
                         width w: Int, scratch: UnsafeMutablePointer<Float>?, into dx: UnsafeMutablePointer<Float>?,
                         gradients: ParameterGradients?, threads: Int) {
        norm.backward(dy, input: saved.convolved, saved: saved.norm, spatial: h * w, relu: relu, gradients: gradients, threads: threads)
        conv.backward(dy, input: x, height: h, width: w, scratch: scratch, into: dx, gradients: gradients, threads: threads)
    }
}
