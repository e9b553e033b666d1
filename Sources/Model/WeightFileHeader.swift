// WeightFileHeader.swift — what a weight file says about its tensors without
// reading them: names and shapes from a safetensors header, or from a `.pth`'s
// data.pkl (unpickled alone; the storages are referenced, never read), and a
// safetensors file's metadata. The manifest loader uses it to learn a model's
// patch size before a run (ManifestSchema/PatchSizeCheck.swift).

import Foundation

/// The tensor names and shapes of a weight file, and its metadata.
public struct WeightFileHeader: Sendable, Equatable {
    /// Shapes by tensor name: a safetensors file's entries; a `.pth` file's state-dict tensors
    /// (of any element type), under the names `TorchCheckpoint` reads.
    public var shapes: [String: [Int]]
    /// A safetensors file's `__metadata__` (empty for a `.pth` file).
    public var metadata: [String: String]

    public init(shapes: [String: [Int]], metadata: [String: String] = [:]) {
        self.shapes = shapes
        self.metadata = metadata
    }

    /// Reads the header of a safetensors or PyTorch (torch.save zip) file. Anything but a regular
    /// file is refused without blocking (MappedFile opens without waiting for a FIFO's writer).
    public static func read(_ path: String) throws(WeightError) -> WeightFileHeader {
        let file = try MappedFile(path: path)
        return try withExtendedLifetime(file) { () throws(WeightError) -> WeightFileHeader in
            if SafeTensors.sniff(file.bytes) { return try SafeTensors.header(file.bytes, path: path) }
            let unpickled = try TorchCheckpoint.unpickle(file.bytes, path: path)
            var shapes: [String: [Int]] = [:]
            for (key, value) in TorchCheckpoint.stateDict(in: unpickled.top).dict.items {
                if case .string(let name) = key, case .tensor(let ref) = value { shapes[name] = ref.shape }
            }
            return WeightFileHeader(shapes: shapes)
        }
    }
}

extension DINOv2Weights {
    /// The patch size of the DINOv2 backbone in a weight file's header: the side p of its patch
    /// embedding kernel [C, 3, p, p], found under the names and prefixes `load` accepts (official,
    /// HuggingFace; `backbone.` or `dinov2.`), with the tensor's name as the file has it.
    /// nil when the header has no such tensor, or one of another shape (`load` refuses the file).
    public static func patchSize(in header: WeightFileHeader) -> (patchSize: Int, tensor: String)? {
        let (scoped, prefix) = backboneScope(header.shapes)
        let name = sourceNames("patch_embed.proj.weight", naming: Naming(of: scoped))[0]
        guard let shape = scoped[name], shape.count == 4, shape[1] == 3, shape[2] == shape[3], shape[2] > 0 else { return nil }
        return (shape[2], prefix + name)
    }
}
