// FeaturePyramid.swift — the four feature maps a Mask2Former head reads from the
// adapted DINOv2 (as Rein's ReinsDinoVisionTransformer hands them to its head).
//
//   x = tokens(image); for l in 0 ... max(outIndices): x = adapter_l(block_l(x))
//   map_j = patch tokens of x after block outIndices[j], channel-major (C, h, w);
//           no LayerNorm (the final norm is not applied), CLS and registers dropped
//   level_j = F.interpolate(map_j, scale_factor=s_j, mode="bilinear", align_corners=False),
//             s = (4, 2, 1, 0.5): strides 4, 8, 16, 32 of a patch-16 input
// Each map is resized on its own (the released code's later form; for Rein's
// query-linked adapter every version does so). A scale factor, not a size: the
// ×0.5 level of an odd grid side n has floor(n/2) rows reading source rows 2d + 0.5.
// Default out indices (L blocks): L/3 - 1, L/2 - 1, 2L/3 - 1, L - 1 (7, 11, 15, 23 for 24).
// Backward (training): a level's gradient goes through the resize's adjoint and
// the transpose back onto the patch rows of the stream after block
// outIndices[j] (CLS and registers get none), added into the caller's stream
// gradient; nothing is kept by the forward.

import Tensor

/// The arena of the four maps for one (batch, grid) shape: level j holds B images
/// (C, heights[j], widths[j]) one after another. ~Copyable: one owner, no silent resize.
public struct FeaturePyramid: ~Copyable {
    /// The bilinear scale factors of the four levels.
    public static let scaleFactors: [Double] = [4, 2, 1, 0.5]

    /// The blocks whose adapted outputs the levels take, increasing.
    public let blocks: [Int]
    public let batch: Int
    public let embedDim: Int
    /// The patch grid h x w the maps start from.
    public let gridHeight: Int, gridWidth: Int
    /// Per level: floor(s·h) x floor(s·w).
    public let heights: [Int], widths: [Int]
    /// Threads each transpose and resize splits over.
    public let threads: Int
    /// Per level: (B, C, heights[j], widths[j]).
    public let levels: [UnsafeMutableBufferPointer<Float>]
    /// Per level: the bilinear taps of rows and columns.
    let rowTaps: [BilinearAxis], columnTaps: [BilinearAxis]
    /// (C, h, w) one map before resizing.
    let planes: UnsafeMutableBufferPointer<Float>
    private let storage: UnsafeMutableBufferPointer<Float>

    /// Default out indices of an L-block backbone: L/3 - 1, L/2 - 1, 2L/3 - 1, L - 1.
    public static func defaultBlocks(depth: Int) -> [Int] {
        [depth / 3 - 1, depth / 2 - 1, 2 * depth / 3 - 1, depth - 1]
    }

    /// An arena for `batch` images of an h x w patch grid with C channels, taking blocks
    /// `blocks` of a `depth`-block backbone (four, increasing, each in 0 ..< depth).
    public init(blocks: [Int], depth: Int, embedDim c: Int, gridHeight h: Int, gridWidth w: Int, batch: Int = 1,
                threads: Int) throws(ModelInputError) {
        guard blocks.count == Self.scaleFactors.count else {
            throw ModelInputError("the feature pyramid takes \(Self.scaleFactors.count) blocks, got \(blocks.count) (\(blocks))")
        }
        guard zip(blocks, blocks.dropFirst()).allSatisfy({ $0 < $1 }), let first = blocks.first, first >= 0,
              let last = blocks.last, last < depth else {
            throw ModelInputError("feature pyramid blocks \(blocks) must increase strictly within 0...\(depth - 1)")
        }
        guard h >= 2, w >= 2 else {
            throw ModelInputError("patch grid \(h)x\(w) is too small for the ×0.5 level (each side must be at least 2)")
        }
        guard batch > 0, c > 0 else { throw ModelInputError("batch \(batch) and channels \(c) must be positive") }
        self.blocks = blocks
        self.batch = batch
        embedDim = c
        gridHeight = h
        gridWidth = w
        self.threads = max(1, threads)
        rowTaps = Self.scaleFactors.map { BilinearAxis(input: h, scaleFactor: $0) }
        columnTaps = Self.scaleFactors.map { BilinearAxis(input: w, scaleFactor: $0) }
        heights = rowTaps.map(\.output)
        widths = columnTaps.map(\.output)
        let sizes = zip(heights, widths).map { batch * c * $0 * $1 }
        storage = .allocate(capacity: sizes.reduce(0, +) + c * h * w)
        storage.initialize(repeating: 0)
        var slices: [UnsafeMutableBufferPointer<Float>] = []
        var offset = 0
        for size in sizes {
            slices.append(UnsafeMutableBufferPointer(rebasing: storage[offset ..< offset + size]))
            offset += size
        }
        levels = slices
        planes = UnsafeMutableBufferPointer(rebasing: storage[offset...])
    }

    deinit { storage.deallocate() }

    /// Level j of image b: (C, heights[j], widths[j]).
    public func level(_ j: Int, image b: Int = 0) -> UnsafeMutableBufferPointer<Float> {
        let size = embedDim * heights[j] * widths[j]
        return UnsafeMutableBufferPointer(rebasing: levels[j][b * size ..< (b + 1) * size])
    }

    /// Writes level j of image b from that image's patch tokens (N x C, row-major grid).
    func fill(level j: Int, image b: Int, patches: UnsafePointer<Float>) {
        let n = gridHeight * gridWidth, out = level(j, image: b).baseAddress!
        if Self.scaleFactors[j] == 1 {
            Transpose.apply(patches, rows: n, cols: embedDim, into: out, threads: threads)
        } else {
            Transpose.apply(patches, rows: n, cols: embedDim, into: planes.baseAddress!, threads: threads)
            Bilinear.resize(planes.baseAddress!, planes: embedDim, rows: rowTaps[j], columns: columnTaps[j], into: out,
                            threads: threads)
        }
    }

    /// Backward of level j for one image: dPatches (N x C, the row-major grid's patch tokens) +=
    /// fillᵀ(dLevel), dLevel (C, heights[j], widths[j]). Uses the arena's plane scratch (not the levels).
    public func addGradient(level j: Int, _ dLevel: UnsafePointer<Float>, intoPatches dPatches: UnsafeMutablePointer<Float>) {
        let n = gridHeight * gridWidth
        if Self.scaleFactors[j] == 1 {
            Transpose.addScaled(dLevel, rows: n, cols: embedDim, alpha: 1, into: dPatches, threads: threads)
        } else {
            Bilinear.resizeBackward(dLevel, planes: embedDim, rows: rowTaps[j], columns: columnTaps[j], into: planes.baseAddress!,
                                    threads: threads)
            Transpose.addScaled(planes.baseAddress!, rows: n, cols: embedDim, alpha: 1, into: dPatches, threads: threads)
        }
    }

    /// Backward of level j for one image into the gradient of the whole stream after block blocks[j]
    /// (T x C token rows, `prefixTokens` = 1 + registers rows before the patches, which get nothing).
    public func addGradient(level j: Int, _ dLevel: UnsafePointer<Float>, intoStream dStream: UnsafeMutablePointer<Float>,
                            prefixTokens: Int) {
        addGradient(level: j, dLevel, intoPatches: dStream + prefixTokens * embedDim)
    }

    /// Bytes held.
    public var byteCount: Int { storage.count * MemoryLayout<Float>.stride }
}

extension DINOv2 {
    /// The default out indices of this backbone (see FeaturePyramid.defaultBlocks).
    public var defaultPyramidBlocks: [Int] { FeaturePyramid.defaultBlocks(depth: blocks.count) }

    /// A pyramid arena for the inputs of `a` (its batch and patch grid), taking `blocks`
    /// (default: defaultPyramidBlocks); transposes and resizes split over `a.threads`.
    public func makeFeaturePyramid(for a: borrowing DINOv2Activations, blocks: [Int]? = nil) throws(ModelInputError) -> FeaturePyramid {
        try FeaturePyramid(blocks: blocks ?? defaultPyramidBlocks, depth: self.blocks.count, embedDim: config.embedDim,
                           gridHeight: a.gridHeight, gridWidth: a.gridWidth, batch: a.batch, threads: a.threads)
    }

    /// Runs the backbone on the arena's B images (B, 3, H, W), normalised, through the last
    /// block `pyramid` takes, and fills its four levels. After every block l, `adapt(l, b,
    /// patches)` may refine image b's patch tokens (N x C) in place before the maps are taken.
    public func featurePyramid(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations,
                               into pyramid: borrowing FeaturePyramid,
                               adapt: (Int, Int, UnsafeMutablePointer<Float>) -> Void = { _, _, _ in }) throws(ModelInputError) {
        guard pyramid.gridHeight == a.gridHeight, pyramid.gridWidth == a.gridWidth, pyramid.batch == a.batch,
              pyramid.embedDim == config.embedDim else {
            throw ModelInputError("the feature pyramid arena (batch \(pyramid.batch), grid \(pyramid.gridHeight)x\(pyramid.gridWidth), C \(pyramid.embedDim)) does not match the activations (batch \(a.batch), grid \(a.gridHeight)x\(a.gridWidth), C \(config.embedDim))")
        }
        guard let last = pyramid.blocks.last, last < blocks.count else {
            throw ModelInputError("feature pyramid blocks \(pyramid.blocks) exceed the backbone's \(blocks.count) blocks")
        }
        let stride = a.tokens * config.embedDim, first = (1 + config.registers) * config.embedDim, images = a.batch
        let taken = pyramid.blocks
        try forward(image, a, through: last) { l, x in
            let base = x.baseAddress!
            for b in 0 ..< images { adapt(l, b, base + b * stride + first) }
            if let j = taken.firstIndex(of: l) {
                for b in 0 ..< images { pyramid.fill(level: j, image: b, patches: base + b * stride + first) }
            }
        }
    }

    /// The pyramid with `adapter` after every block (Rein / Causal-Tune on the patch tokens);
    /// `prepared` is `adapter.prepare()`, `adapterActivations` an arena of the same patch grid.
    public func featurePyramid(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations,
                               adapter: CausalTuneAdapter, prepared: PreparedAdapter,
                               _ adapterActivations: borrowing AdapterActivations,
                               into pyramid: borrowing FeaturePyramid) throws(ModelInputError) {
        guard adapter.layers == blocks.count, adapter.embedDim == config.embedDim else {
            throw ModelInputError("the adapter (\(adapter.layers) layers, C \(adapter.embedDim)) does not match the backbone (\(blocks.count) blocks, C \(config.embedDim))")
        }
        guard adapterActivations.gridHeight == a.gridHeight, adapterActivations.gridWidth == a.gridWidth else {
            throw ModelInputError("the adapter arena's grid \(adapterActivations.gridHeight)x\(adapterActivations.gridWidth) is not the input's \(a.gridHeight)x\(a.gridWidth)")
        }
        try featurePyramid(image, a, into: pyramid) { l, _, patches in
            adapter.forward(layer: l, patches: patches, prepared: prepared, adapterActivations)
        }
    }
}
