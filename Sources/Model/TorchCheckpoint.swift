// TorchCheckpoint.swift — tensors out of a `torch.save` file (PyTorch >= 1.6 zip format).
//
// The archive holds `<root>/data.pkl` (the pickled object), `<root>/data/<key>`
// (one raw little-endian storage per key) and `<root>/byteorder`. A state dict
// pickles as an OrderedDict of `_rebuild_tensor_v2(storage, offset, size,
// stride, ...)` calls whose storages are persistent ids
// `('storage', torch.FloatStorage, key, location, numel)`. Accepted top levels:
// a state dict (facebookresearch releases), or a dict holding one under
// `state_dict` (MMSegmentation, mmengine) or `model`. Float32, float16,
// bfloat16 and float64 tensors are returned as float32; tensors of other
// element types (integer buffers such as BatchNorm's `num_batches_tracked`)
// and state-dict values that are not tensors are listed in `skipped`. Entries
// outside the state dict (mmengine's meta, optimizer, ...) are unpickled as
// opaque values and never read further.

import Foundation
import Tensor

/// The float tensors of a checkpoint, by name.
public struct TorchCheckpointContents: Sendable {
    public var tensors: [String: Tensor]
    /// Names of entries left out: tensors with their storage type, other values with what they are.
    public var skipped: [String: String]
    /// Where the state dict was found: "" (top level), "state_dict" or "model".
    public var container: String
}

public enum TorchCheckpoint {
    /// True when the bytes are a zip archive (what torch.save writes since 1.6).
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool { ZipArchive.sniff(bytes) }

    /// Reads the state dict of a `.pth` file.
    public static func read(_ path: String) throws(WeightError) -> TorchCheckpointContents {
        let file = try MappedFile(path: path)
        return try parse(file.bytes, path: path, afterCopy: file.release)
    }

    /// Parses the bytes of a `.pth` file; `path` names it in errors. `afterCopy` is
    /// told each tensor's storage bytes once they are copied out (a mapped file
    /// releases them, see MappedFile.release).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String,
                             afterCopy: (UnsafeRawBufferPointer) -> Void = { _ in }) throws(WeightError) -> TorchCheckpointContents {
        let file = try unpickle(bytes, path: path)
        let (dict, container) = stateDict(in: file.top)
        let contents = try floatTensors(of: dict, container: container, in: file, bytes: bytes, path: path, afterCopy: afterCopy)
        if contents.tensors.isEmpty {
            throw WeightError(path: path, reason: "no float tensors found (top-level keys: \(keys(of: dict)))")
        }
        return contents
    }

    /// The pickled top-level dict of a `.pth` file and where its storages lie.
    struct Unpickled {
        let top: PickleDict
        let archive: ZipArchive
        /// The archive's folder prefix (`<root>/`).
        let root: String
    }

    /// Checks the archive and unpickles `data.pkl` (storages are referenced, not read).
    static func unpickle(_ bytes: UnsafeRawBufferPointer, path: String) throws(WeightError) -> Unpickled {
        if !ZipArchive.sniff(bytes) {
            if bytes.count >= 2, bytes[0] == 0x80 {
                throw WeightError(path: path, reason: "legacy (pre-1.6, non-zip) torch.save format is not supported; load and re-save it with torch.save under PyTorch >= 1.6")
            }
            throw WeightError(path: path, reason: "not a PyTorch checkpoint (no zip signature)")
        }
        let archive = try ZipArchive(bytes, path: path)
        guard let pickle = archive.entries.values.filter({ $0.name.hasSuffix("data.pkl") })
            .min(by: { $0.name.count < $1.name.count }) else {
            throw WeightError(path: path, reason: "zip archive without data.pkl: not a torch.save file")
        }
        let root = String(pickle.name.dropLast("data.pkl".count))
        if let order = archive.entries[root + "byteorder"] {
            let text = String(decoding: try ZipArchive.data(of: order, in: bytes, path: path), as: UTF8.self)
            guard text.trimmingCharacters(in: .whitespacesAndNewlines) == "little" else {
                throw WeightError(path: path, reason: "storages are \(text) endian; only little endian is supported")
            }
        }
        let (top, _) = try load(pickle: try ZipArchive.data(of: pickle, in: bytes, path: path), path: path + ":" + pickle.name)
        guard case .dict(let dict) = top else {
            throw WeightError(path: path, reason: "the pickled object is \(top.kind), not a dict of tensors")
        }
        return Unpickled(top: dict, archive: archive, root: root)
    }

    /// Unpickles the bytes of a `data.pkl`: the object, and the storages its persistent ids
    /// name (`('storage', <type>, key, location, count)`), in order of appearance.
    static func load(pickle data: UnsafeRawBufferPointer, path: String) throws(WeightError) -> (PickleValue, [TorchStorageRef]) {
        var unpickler = Unpickler(data, path: path)
        var storages: [TorchStorageRef] = []
        let top = try unpickler.load { pid throws(WeightError) -> PickleValue in
            guard case .tuple(let items) = pid, items.count >= 5, case .string("storage") = items[0],
                  case .global(let typeName) = items[1], case .string(let key) = items[2],
                  case .int(let count) = items[4] else {
                throw WeightError(path: path, reason: "pickle: unexpected persistent id (not a torch storage)")
            }
            guard count >= 0 else {
                throw WeightError(path: path, reason: "pickle: storage \(key) has a negative element count \(count)")
            }
            let storage = TorchStorageRef(typeName: typeName, dtype: storageTypes[typeName], key: key, count: count)
            storages.append(storage)
            return .storage(storage)
        }
        return (top, storages)
    }

    /// The float storages a `data.pkl` names and the bytes each holds in the archive
    /// (`data/<key>`: element count x element size), without reading any storage.
    /// Storages of other element types, and sizes that overflow, are left out.
    public static func floatStorageBytes(ofPickle data: UnsafeRawBufferPointer, path: String) throws(WeightError) -> [String: Int] {
        var sizes: [String: Int] = [:]
        for storage in try load(pickle: data, path: path).1 {
            guard let dtype = storage.dtype else { continue }
            let (bytes, overflow) = storage.count.multipliedReportingOverflow(by: dtype.byteSize)
            if !overflow { sizes[storage.key] = bytes }
        }
        return sizes
    }

    /// The state dict: the dict under `state_dict`, else under `model`, else the top level itself;
    /// with its key ("" for the top level).
    static func stateDict(in top: PickleDict) -> (dict: PickleDict, container: String) {
        for candidate in ["state_dict", "model"] {
            if let inner = top.items.first(where: { if case .string(candidate) = $0.key { true } else { false } }),
               case .dict(let innerDict) = inner.value {
                return (innerDict, candidate)
            }
        }
        return (top, "")
    }

    /// The float tensors of a state dict, read from their storages; other tensors and
    /// values are listed in `skipped`.
    static func floatTensors(of dict: PickleDict, container: String, in file: Unpickled, bytes: UnsafeRawBufferPointer,
                             path: String, afterCopy: (UnsafeRawBufferPointer) -> Void) throws(WeightError) -> TorchCheckpointContents {
        var contents = TorchCheckpointContents(tensors: [:], skipped: [:], container: container)
        var verified = Set<String>()
        for (key, value) in dict.items {
            guard case .string(let name) = key else { continue }
            guard case .tensor(let ref) = value else {
                contents.skipped[name] = value.kind
                continue
            }
            guard let dtype = ref.storage.dtype else {
                contents.skipped[name] = ref.storage.typeName
                continue
            }
            contents.tensors[name] = try materialise(ref, dtype: dtype, name: name, archive: file.archive, root: file.root,
                                                     bytes: bytes, path: path, verified: &verified)
            if let entry = file.archive.entries[file.root + "data/" + ref.storage.key] {
                afterCopy(UnsafeRawBufferPointer(rebasing: bytes[entry.offset ..< entry.offset + entry.size]))
            }
        }
        return contents
    }

    static let storageTypes: [String: StoredDType] = [
        "torch.FloatStorage": .float32, "torch.HalfStorage": .float16,
        "torch.BFloat16Storage": .bfloat16, "torch.DoubleStorage": .float64,
    ]

    static func keys(of dict: PickleDict) -> String {
        dict.items.prefix(8).map { if case .string(let s) = $0.key { s } else { $0.key.kind } }.joined(separator: ", ")
    }

    /// Copies a (possibly strided) tensor view out of its storage as float32.
    static func materialise(_ ref: TorchTensorRef, dtype: StoredDType, name: String, archive: ZipArchive,
                            root: String, bytes: UnsafeRawBufferPointer, path: String,
                            verified: inout Set<String>) throws(WeightError) -> Tensor {
        func fail(_ reason: String) -> WeightError { WeightError(path: path, tensor: name, reason: reason) }
        guard let entry = archive.entries[root + "data/" + ref.storage.key] else {
            throw fail("storage data/\(ref.storage.key) missing from the archive")
        }
        let (storageBytes, storageOverflow) = ref.storage.count.multipliedReportingOverflow(by: dtype.byteSize)
        guard ref.storage.count >= 0, !storageOverflow, entry.size == storageBytes else {
            throw fail("storage data/\(ref.storage.key) has \(entry.size) bytes, expected \(ref.storage.count) x \(dtype.byteSize)")
        }
        let view = "view (offset \(ref.offset), size \(ref.shape), stride \(ref.stride))"
        guard ref.offset >= 0 else { throw fail("\(view) has a negative offset") }
        guard ref.stride.allSatisfy({ $0 >= 0 }) else { throw fail("\(view) has a negative stride; PyTorch never saves one") }
        // The element count, checked without overflow; a view may never claim more elements
        // than its storage holds (a stride-0 view of one element cannot become a huge tensor).
        // The sizes' product with zeros read as 1 must not overflow either (an empty tensor
        // with absurd sizes would trap whatever multiplies them later).
        var count = 1, extent = 1
        for n in ref.shape {
            let (product, overflow) = extent.multipliedReportingOverflow(by: max(n, 1))
            guard !overflow else { throw fail("\(view) has more elements than its storage of \(ref.storage.count)") }
            extent = product
            count *= n   // |count| <= extent at every step
        }
        guard count <= ref.storage.count else {
            throw fail("\(view) has more elements than its storage of \(ref.storage.count)")
        }
        if count == 0 { return Tensor(zeros: ref.shape) }
        // The last element the view reaches, checked without overflow (all strides are >= 0).
        let lowest = ref.offset
        var highest = ref.offset
        for (n, s) in zip(ref.shape, ref.stride) {
            let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = highest.addingReportingOverflow(step)
            guard !o1, !o2 else { throw fail("\(view) outside its storage of \(ref.storage.count) elements") }
            highest = sum
        }
        guard highest < ref.storage.count else {
            throw fail("\(view) outside its storage of \(ref.storage.count) elements")
        }
        // The storage's CRC-32 is checked once, the first time a view of it is read.
        if !verified.contains(entry.name) {
            _ = try ZipArchive.data(of: entry, in: bytes, path: path)
            verified.insert(entry.name)
        }
        let base = bytes.baseAddress! + entry.offset
        var contiguous = [Int](repeating: 1, count: ref.shape.count)
        for i in stride(from: ref.shape.count - 2, through: 0, by: -1) { contiguous[i] = contiguous[i + 1] * ref.shape[i + 1] }
        let isContiguous = zip(zip(ref.shape, ref.stride), contiguous).allSatisfy { $0.0.0 == 1 || $0.0.1 == $0.1 }
        if isContiguous {
            return Tensor(shape: ref.shape, storage: dtype.decode(base + ref.offset * dtype.byteSize, count: count))
        }
        // Strided view: decode the storage span, then gather in row-major order.
        let span = dtype.decode(base + lowest * dtype.byteSize, count: highest - lowest + 1)
        var out = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: ref.shape.count)
        for i in 0 ..< count {
            var source = ref.offset - lowest
            for d in 0 ..< index.count { source += index[d] * ref.stride[d] }
            out[i] = span[source]
            var d = index.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < ref.shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return Tensor(shape: ref.shape, storage: out)
    }
}
