// Mask2FormerTargets.swift — the targets of the Mask2Former loss for one image,
// made from its semantic label as MMSegmentation's Mask2FormerHead makes them
// (`_seg_data_to_instance_data`): one binary mask per class present in the
// label, the ignore value excluded, with the class id as its label.
//
// Order: ascending class id. mmseg takes `torch.unique(gt_sem_seg, sorted=False)`;
// on CUDA unique always sorts, and current CPU builds sort too (torch 2.13 gives
// ascending order for uint8 and int64 labels), so the order Rein trains with is
// ascending. The order matters: the matcher's ties and the targets' indices follow it.
//
// The masks are not stored: a mask's value at a pixel is `label == class`, and
// the loss samples the label map directly (an ignored pixel is 0 in every mask).

/// The classes present in one trainId label map, and the label itself.
public struct Mask2FormerTargets: Sendable, Equatable {
    /// The label value that belongs to no target.
    public static let ignoreIndex: UInt8 = 255

    public let height: Int
    public let width: Int
    /// height x width trainIds, row-major.
    public let label: [UInt8]
    /// The class of each target, ascending.
    public let classes: [Int]

    /// The targets of `label` (height x width trainIds, `ignoreIndex` = ignore) for a model of
    /// `classCount` classes (K, without "no object"). A value that is neither a class nor the
    /// ignore value is a `TrainingError`.
    public init(label: [UInt8], height: Int, width: Int, classCount: Int) throws(TrainingError) {
        guard height > 0, width > 0, label.count == height * width else {
            throw TrainingError("Mask2Former target label: \(label.count) values for a \(height)x\(width) map")
        }
        guard classCount > 0, classCount < Int(Self.ignoreIndex) else {
            throw TrainingError("Mask2Former targets: class count \(classCount) is not in 1...\(Int(Self.ignoreIndex) - 1)")
        }
        var present = [Bool](repeating: false, count: 256)
        for value in label { present[Int(value)] = true }
        for value in classCount ..< 255 where present[value] {
            let pixel = label.firstIndex(of: UInt8(value))!
            throw TrainingError("Mask2Former target label: value \(value) at pixel (\(pixel / width), \(pixel % width)) is not a class of a \(classCount)-class model (0...\(classCount - 1), or \(Self.ignoreIndex) to ignore)")
        }
        self.height = height
        self.width = width
        self.label = label
        self.classes = (0 ..< classCount).filter { present[$0] }
    }

    /// The number of target masks.
    public var count: Int { classes.count }

    /// Target `index`'s binary mask (height x width, 1 where the label is its class).
    public func mask(_ index: Int) -> [UInt8] {
        let c = UInt8(classes[index])
        return label.map { $0 == c ? 1 : 0 }
    }
}
