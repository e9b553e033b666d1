// TrainingData.swift — the training stream: which sample sits at each
// position, and its augmented crop.
//
// Position k of the stream is sample order_e[k mod S] of epoch e = k div S
// (S samples over all train datasets, concatenated in manifest order), where
// order_e is a Fisher–Yates shuffle drawn from AugmentRNG(seed, 0x5EED_0DE2, e);
// the crop, flip and photometric draws of that sample come from
// AugmentRNG(seed, sample index, e) (Augment's per-(seed, sample, epoch)
// streams). Everything is a function of (seed, k): a resumed run continues the
// same stream, whatever the prefetching did before it stopped. The samples are
// the listing's after its pair-size check (`size_mismatch`): a pair left out is
// not in the stream, and a `resize-label` pair loads its label at the image's
// size (Sample.loadLabel).

import Augment
import Datasets
import ImageIO
import RunFolder
import Training

struct TrainingData: Sendable {
    let samples: [Sample]
    let pipeline: TrainPipeline
    let seed: UInt64
    /// The manifest's decode limits (`execution.max_pixels`, `run --max-pixels`), as for every other image of a run.
    let limits: DecodeLimits

    /// The shuffled sample order of one epoch.
    func order(epoch: Int) -> [Int] {
        var rng = AugmentRNG(seed: seed, sample: 0x5EED_0DE2, epoch: UInt64(epoch))
        var order = Array(0 ..< samples.count)
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, rng.integer(0, i + 1))
            }
        }
        return order
    }

    /// The augmented example at stream position `position`, given its epoch's order.
    func example(at position: Int, order: [Int]) throws -> TrainingExample {
        let epoch = position / samples.count
        let index = order[position % samples.count]
        let sample = samples[index]
        let loaded: (image: Image8, label: Image8)
        do { loaded = try sample.load(sizePolicy: .report, limits: limits) } catch {
            throw RunError("training sample \(sample.id): \(error)")
        }
        do {
            let out = try pipeline.apply(image: loaded.image, label: loaded.label, seed: seed, sample: UInt64(index),
                                         epoch: UInt64(epoch))
            return TrainingExample(image: out.image, label: out.label)
        } catch {
            throw RunError("training sample \(sample.id) (\(sample.imagePath)): \(error)")
        }
    }
}
