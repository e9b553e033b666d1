// SegmentationSaved.swift — what a training forward pass of the whole
// segmentation model keeps for its backward pass (SegmentationSaved), the
// backward pass's scratch. All pointers into a trainer's arena, which
// outlives them. Gradients go to ParameterGradients.

import Tensor

/// What `SegmentationModel.forward(_:_:keep:)` keeps (one image).
public struct SegmentationSaved {
    /// (blocks run + 1) residual streams (T, C): stream l enters block l, stream
    /// l + 1 leaves block l after its adapter.
    public let streams: UnsafeMutablePointer<Float>
    /// T·C, the floats of one stream.
    public let streamSize: Int
    /// One per block run, or a single set every block shares (activation
    /// checkpointing: each block is recomputed right before its backward pass).
    public let blocks: [BlockSaved]
    /// The head's LayerNorm statistics, one per selected block.
    public let head: [LayerNormSaved]

    public init(streams: UnsafeMutablePointer<Float>, streamSize: Int, blocks: [BlockSaved], head: [LayerNormSaved]) {
        precondition(!blocks.isEmpty, "SegmentationSaved: no block buffers")
        self.streams = streams
        self.streamSize = streamSize
        self.blocks = blocks
        self.head = head
    }

    /// The stream entering block l (l = blocks run: leaving the last block, after its adapter).
    public func stream(_ l: Int) -> UnsafeMutablePointer<Float> { streams + l * streamSize }

    /// The kept buffers of block l.
    public func block(_ l: Int) -> BlockSaved { blocks.count == 1 ? blocks[0] : blocks[l] }
}

/// The scratch of `SegmentationModel.backward` (one image).
public struct SegmentationBackwardScratch {
    /// (T, C) the stream gradient.
    public let dStream: UnsafeMutablePointer<Float>
    /// (J, N, C) the gradient of the head's normalised features.
    public let dHeadFeatures: UnsafeMutablePointer<Float>
    public let block: BlockBackwardScratch
    /// CausalTuneAdapter.backwardScratchCount floats; nil without an adapter.
    public let adapter: UnsafeMutablePointer<Float>?

    public init(dStream: UnsafeMutablePointer<Float>, dHeadFeatures: UnsafeMutablePointer<Float>, block: BlockBackwardScratch,
                adapter: UnsafeMutablePointer<Float>?) {
        self.dStream = dStream
        self.dHeadFeatures = dHeadFeatures
        self.block = block
        self.adapter = adapter
    }
}
