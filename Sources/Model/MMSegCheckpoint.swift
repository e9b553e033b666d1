// MMSegCheckpoint.swift — the state dict of a checkpoint MMSegmentation saved
// (mmengine's torch.save of {meta, state_dict, message_hub, optimizer,
// param_schedulers}), split by the segmentor's parts.
//
//   backbone.reins.*   the adapter (Rein / Causal-Tune tokens, MLPs, scale; Rein's
//                      query link transform.* and merge.*)
//   decode_head.*      the head (Mask2Former's, or the linear head)
//   backbone.*         other backbone tensors (absent in Rein's and Causal-Tune's
//                      checkpoints: the frozen DINOv2 comes from its own file)
// The state dict may also be the file's top level, or sit under `model`.
// Everything outside it stays opaque (see Pickle.swift): only `meta`'s plain
// scalars and `dataset_meta.classes` are read. A state dict without float
// tensors, or with a tensor outside those prefixes, is refused naming the file.

import Tensor

public struct MMSegCheckpoint: Sendable {
    public static let adapterPrefix = "backbone.reins."
    public static let headPrefix = "decode_head."
    public static let backbonePrefix = "backbone."

    /// `backbone.reins.*` tensors, by full name.
    public var adapter: [String: Tensor]
    /// `decode_head.*` tensors, by full name.
    public var head: [String: Tensor]
    /// Other `backbone.*` tensors, by full name (empty for adapter-only checkpoints).
    public var backbone: [String: Tensor]
    /// State-dict entries that are not float tensors (integer buffers, ...): name -> what they are.
    public var skipped: [String: String]
    /// Where the state dict was: "state_dict", "model", or "" (the file's top level).
    public var container: String
    /// The other top-level entries (meta, message_hub, optimizer, ...), in file order; not read.
    public var other: [String]
    /// `meta`'s string, integer, float and boolean entries, as text (e.g. "iter": "40000").
    public var meta: [String: String]
    /// `meta.dataset_meta.classes`, when present.
    public var classes: [String]?

    /// Reads the checkpoint at `path`.
    public static func read(_ path: String) throws(WeightError) -> MMSegCheckpoint {
        let file = try MappedFile(path: path)
        return try parse(file.bytes, path: path, afterCopy: file.release)
    }

    /// Parses the bytes of a `.pth` file; `path` names it in errors.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String,
                             afterCopy: (UnsafeRawBufferPointer) -> Void = { _ in }) throws(WeightError) -> MMSegCheckpoint {
        let file = try TorchCheckpoint.unpickle(bytes, path: path)
        let (dict, container) = TorchCheckpoint.stateDict(in: file.top)
        let place = container.isEmpty ? "at the top level" : "under '\(container)'"
        let contents = try TorchCheckpoint.floatTensors(of: dict, container: container, in: file, bytes: bytes, path: path,
                                                        afterCopy: afterCopy)
        if contents.tensors.isEmpty {
            let what = dict.items.isEmpty ? "is empty" : "holds no float tensors (keys: \(TorchCheckpoint.keys(of: dict)))"
            throw WeightError(path: path, reason: "the state dict \(place) \(what): not a trained segmentor checkpoint")
        }
        let stray = contents.tensors.keys.filter { !$0.hasPrefix(backbonePrefix) && !$0.hasPrefix(headPrefix) }.sorted()
        if let first = stray.first {
            throw WeightError(path: path, tensor: first,
                              reason: "neither under '\(backbonePrefix)' nor under '\(headPrefix)' (\(stray.count) such of \(contents.tensors.count) tensors in the state dict \(place)): not an MMSegmentation encoder-decoder checkpoint this reader knows")
        }
        var out = MMSegCheckpoint(adapter: [:], head: [:], backbone: [:], skipped: contents.skipped, container: container,
                                  other: [], meta: [:], classes: nil)
        for (name, tensor) in contents.tensors {
            if name.hasPrefix(adapterPrefix) {
                out.adapter[name] = tensor
            } else if name.hasPrefix(headPrefix) {
                out.head[name] = tensor
            } else {
                out.backbone[name] = tensor
            }
        }
        if !container.isEmpty {
            for (key, value) in file.top.items {
                guard case .string(let name) = key, name != container else { continue }
                out.other.append(name)
                if name == "meta", case .dict(let meta) = value { out.readMeta(meta) }
            }
        }
        return out
    }

    /// Plain scalars of `meta`, and the class names of its `dataset_meta`.
    mutating func readMeta(_ meta: PickleDict) {
        for (key, value) in meta.items {
            guard case .string(let name) = key else { continue }
            switch value {
            case .string(let s): self.meta[name] = s
            case .int(let i): self.meta[name] = String(i)
            case .float(let f): self.meta[name] = String(f)
            case .bool(let b): self.meta[name] = String(b)
            case .dict(let inner) where name == "dataset_meta":
                for (k, v) in inner.items {
                    guard case .string("classes") = k else { continue }
                    let items: [PickleValue]
                    switch v {
                    case .tuple(let t): items = t
                    case .list(let l): items = l.items
                    default: continue
                    }
                    let names = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
                    if names.count == items.count { classes = names }
                }
            default: continue
            }
        }
    }
}
