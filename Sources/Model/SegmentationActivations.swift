// SegmentationActivations.swift — the arena of a whole segmentation forward
// pass for one input shape: the backbone's, the adapter's, the head's
// normalised features (J, N, C), patch logits (N, K), logit planes (K, h, w)
// and the upsampled logits (K, H, W). ~Copyable, one per worker and shape.

import Tensor

public struct SegmentationActivations: ~Copyable {
    public let height: Int, width: Int
    public let backbone: DINOv2Activations
    public let adapter: AdapterActivations
    /// (J, N, C) LayerNorm'ed patch tokens of the head's blocks.
    public let headFeatures: UnsafeMutableBufferPointer<Float>
    /// (N, K)
    public let patchLogits: UnsafeMutableBufferPointer<Float>
    /// (K, h, w)
    public let logitPlanes: UnsafeMutableBufferPointer<Float>
    /// (K, H, W) the model's output.
    public let logits: UnsafeMutableBufferPointer<Float>

    init(backbone: consuming DINOv2Activations, adapter: consuming AdapterActivations, headBlocks: Int, classes: Int) {
        height = backbone.height
        width = backbone.width
        let n = backbone.gridHeight * backbone.gridWidth, c = backbone.embedDim
        let threads = backbone.threads
        headFeatures = Threading.zeroedFloats(headBlocks * n * c, threads: threads)
        patchLogits = Threading.zeroedFloats(n * classes, threads: threads)
        logitPlanes = Threading.zeroedFloats(n * classes, threads: threads)
        logits = Threading.zeroedFloats(classes * backbone.height * backbone.width, threads: threads)
        self.backbone = backbone
        self.adapter = adapter
    }

    /// Threads every step of a forward pass over this arena splits into.
    public var threads: Int { backbone.threads }

    /// Bytes held (the backbone's and the adapter's arenas included).
    public var byteCount: Int {
        backbone.byteCount + adapter.byteCount
            + (headFeatures.count + patchLogits.count + logitPlanes.count + logits.count) * MemoryLayout<Float>.stride
    }

    deinit {
        headFeatures.deallocate()
        patchLogits.deallocate()
        logitPlanes.deallocate()
        logits.deallocate()
    }
}
