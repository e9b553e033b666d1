// TorchCheckpointWriter.swift — a state dict as `torch.save` writes it (PyTorch
// >= 1.6 zip format), the counterpart of TorchCheckpoint's reader.
//
// The archive, under the folder `archive/`, in torch.save's record order:
//   data.pkl              the pickled top level (PickleWriter): `{"meta": ...,
//                         "state_dict": OrderedDict(name -> tensor)}`, as
//                         mmengine saves a checkpoint
//   .format_version       "1"
//   .storage_alignment    "64"
//   byteorder             "little"
//   data/<n>              tensor n's float32 values, little endian, n = 0, 1, ...
//   version               "3\n"
// Entries are stored (uncompressed), each with its CRC-32, data 64-byte aligned
// (ZipWriter). The file is written atomically (CTCore's AtomicFile).

import CTCore
import Tensor

public enum TorchCheckpointWriter {
    /// The archive's folder.
    public static let root = "archive/"

    /// The bytes of a `.pth` file holding `{"meta": meta, "state_dict": OrderedDict(stateDict)}`
    /// (float32 tensors, in this order); `path` names the file in errors.
    public static func encode(stateDict: [(name: String, tensor: Tensor)], meta: [(String, PickleOutput)],
                              path: String) throws(WeightError) -> [UInt8] {
        try encode(stateDict: stateDict, meta: meta, path: path, zip: ZipWriter())
    }

    static func encode(stateDict: [(name: String, tensor: Tensor)], meta: [(String, PickleOutput)], path: String,
                       zip: ZipWriter) throws(WeightError) -> [UInt8] {
        var seen = Set<String>()
        for (name, _) in stateDict where !seen.insert(name).inserted {
            throw WeightError(path: path, tensor: name, reason: "appears twice in the state dict")
        }
        let entries = stateDict.enumerated().map { ($1.name, PickleOutput.floatTensor(key: String($0), shape: $1.tensor.shape)) }
        let top = PickleOutput.dict([("meta", .dict(meta)), ("state_dict", .orderedDict(entries))])
        var zip = zip
        try zip.add(root + "data.pkl", PickleWriter.encode(top), path: path)
        try zip.add(root + ".format_version", Array("1".utf8), path: path)
        try zip.add(root + ".storage_alignment", Array(String(ZipWriter.alignment).utf8), path: path)
        try zip.add(root + "byteorder", Array("little".utf8), path: path)
        for (key, entry) in stateDict.enumerated() {
            // float32 little endian: the host order on every platform ctpipe builds for.
            try zip.add(root + "data/\(key)", entry.tensor.storage.withUnsafeBytes { Array($0) }, path: path)
        }
        try zip.add(root + "version", Array("3\n".utf8), path: path)
        zip.finish()
        return zip.bytes
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public static func write(stateDict: [(name: String, tensor: Tensor)], meta: [(String, PickleOutput)],
                             to path: String) throws(WeightError) {
        let bytes = try encode(stateDict: stateDict, meta: meta, path: path)
        do { try AtomicFile.write(bytes, to: path) } catch { throw WeightError(path: path, reason: error.reason) }
    }
}
