// PatchSizeConversion.swift — the Rein / Causal-Tune conversion for 512 x 512 crops.
//
// The p x p patch kernel is resized to p' x p' with `F.interpolate(size=(p', p'),
// mode="bicubic", align_corners=False)` (values not rescaled for the larger area;
// bias kept), and the G x G position grid to G' x G' the same way (no antialias;
// CLS position kept). DINOv2 14 -> 16 with G' = 32 makes a 512 crop a 32 x 32
// grid with no further interpolation (method.md §1).

import Tensor

public enum PatchSizeConversion {
    /// The model with patch size `patchSize` and stored grid `gridSize`.
    public static func convert(_ model: DINOv2, patchSize: Int, gridSize: Int) -> DINOv2 {
        precondition(patchSize > 0 && gridSize > 0, "PatchSizeConversion: patch \(patchSize), grid \(gridSize)")
        var m = model
        let c = model.config.embedDim, p = model.config.patchSize, g = model.config.gridSize
        let kernel = model.patchEmbed.weight.withUnsafeBufferPointer {
            Bicubic.resizePlanes($0, planes: c * 3, height: p, width: p, outHeight: patchSize, outWidth: patchSize, mode: .size)
        }
        m.patchEmbed = PatchEmbedding(weight: Parameter(Tensor(shape: [c, 3, patchSize, patchSize], storage: kernel)),
                                      bias: model.patchEmbed.bias)
        let grid = model.posEmbed.withUnsafeBufferPointer { all in
            Bicubic.resize(UnsafeBufferPointer(rebasing: all[c...]), height: g, width: g, channels: c,
                           outHeight: gridSize, outWidth: gridSize, mode: .size)
        }
        m.posEmbed = Parameter(Tensor(shape: [1, 1 + gridSize * gridSize, c], storage: Array(model.posEmbed.values[0 ..< c]) + grid))
        var config = model.config
        config.patchSize = patchSize
        config.gridSize = gridSize
        return DINOv2(config: config, patchEmbed: m.patchEmbed, clsToken: m.clsToken, registerTokens: m.registerTokens,
                      posEmbed: m.posEmbed, blocks: m.blocks, norm: m.norm)
    }
}
