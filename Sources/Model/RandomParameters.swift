// RandomParameters.swift — binds every parameter a walk visits to one new storage
// filled with seeded random values of plausible scale, for benchmarks and
// smoke runs of models at their real sizes without released weights:
//   * norm scales (1-D `weight`): 1 ± 0.1; biases and other 1-D tensors: ± 0.1;
//   * deformable sampling offsets: weights ± 0.01, biases ± 2 (a few cells);
//   * level embeddings and adapter tokens: uniform of variance 1 / (last axis);
//   * the adapter's scalar `scale`: 0.1;
//   * every other matrix or convolution: uniform ± √(3 / fan-in) (unit variance out).

import CTCore
import Tensor

public struct RandomParameters: ParameterVisitor {
    public let storage: ParameterStorage
    var offset = 0
    var rng: SplitMix64

    /// Room for `count` values (the walk's total: `ParameterList.count(of:)`), reproducible from `seed`.
    public init(count: Int, seed: UInt64) {
        storage = ParameterStorage(count: count)
        rng = SplitMix64(seed: seed)
    }

    public mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
        guard offset + info.count <= storage.count else {
            throw WeightError(path: "random parameters", tensor: info.name,
                              reason: "the storage of \(storage.count) values has no room for shape \(info.shape)")
        }
        let shape = info.shape, name = info.name
        let (scale, mean): (Float, Float)
        if name.hasSuffix("scale") && info.count == 1 {
            (scale, mean) = (0, 0.1)
        } else if name.contains("sampling_offsets") {
            (scale, mean) = (name.hasSuffix("bias") ? 2 : 0.01, 0)
        } else if shape.count <= 1 {
            (scale, mean) = name.hasSuffix("weight") ? (0.1, 1) : (0.1, 0)
        } else if name.contains("level_e") || name.contains("learnable_tokens") {
            (scale, mean) = ((3 / Float(shape.last!)).squareRoot(), 0)
        } else {
            (scale, mean) = ((3 / Float(shape.dropFirst().reduce(1, *))).squareRoot(), 0)
        }
        let bound = Parameter(shape: shape, storage: storage, offset: offset)
        let values = bound.values
        for i in values.indices { values[i] = mean + scale * Float.random(in: -1 ..< 1, using: &rng) }
        offset += info.count
        parameter = bound
    }
}
