// Mask2FormerExport.swift — a Mask2Former model as the MMSegmentation checkpoint
// Rein's and Causal-Tune's PyTorch code loads (`torch.load`, mmengine's
// load_checkpoint) and ctpipe's own reader takes (MMSegCheckpoint,
// Mask2FormerModel.load(checkpoint:weights:adapter:)):
//
//   {"meta": {...}, "state_dict": OrderedDict(
//       backbone.*          the DINOv2 tensors, official names (only when asked:
//                           Rein saves none, the frozen backbone has its own file)
//       backbone.reins.*    the adapter
//       decode_head.*       the head, under mmdet's Mask2FormerHead names)}
//
// Tensors are float32, in the shapes the released code declares (the adapter's
// `scale` a 0-d tensor), in walk order within each part.

import Tensor

extension Mask2FormerModel {
    /// The tensors of the MMSegmentation checkpoint, in file order: the backbone's (with
    /// `includeBackbone`), then the adapter's, then the head's.
    public func mmsegStateDict(includeBackbone: Bool = false) -> [(name: String, tensor: Tensor)] {
        let tensors = stateDict()
        let names = parameterInfos().map(\.name)
        let backbone = names.filter { SegmentationModel.isBackboneParameter($0) }
        let rest = names.filter { !SegmentationModel.isBackboneParameter($0) }
        return ((includeBackbone ? backbone : []) + rest).map { ($0, tensors[$0]!) }
    }

    /// The `meta` entries of an exported checkpoint: what wrote it, the adapter kind (which the
    /// tensors cannot tell), and — when given — `dataset_meta` with the class names and their
    /// colours (mmseg's init_model takes the model's classes from there).
    public func mmsegMeta(classes: [String]? = nil, palette: [[Int]]? = nil) -> [(String, PickleOutput)] {
        var meta: [(String, PickleOutput)] = [
            ("ctpipe", .dict([("adapter", .string(config.adapter.kind.rawValue)),
                              ("decoder_layers", .int(config.decoder.layers)),
                              ("num_classes", .int(classes?.count ?? self.classes))])),
        ]
        if let classes {
            var dataset: [(String, PickleOutput)] = [("classes", .tuple(classes.map { .string($0) }))]
            if let palette { dataset.append(("palette", .list(palette.map { .list($0.map { .int($0) }) }))) }
            meta.append(("dataset_meta", .dict(dataset)))
        }
        return meta
    }

    /// Writes the model as an MMSegmentation `.pth` checkpoint (atomically). `meta`: the
    /// checkpoint's `meta` entries (default `mmsegMeta()`).
    public func writeMMSegCheckpoint(to path: String, includeBackbone: Bool = false,
                                     meta: [(String, PickleOutput)]? = nil) throws(WeightError) {
        try TorchCheckpointWriter.write(stateDict: mmsegStateDict(includeBackbone: includeBackbone), meta: meta ?? mmsegMeta(),
                                        to: path)
    }
}
