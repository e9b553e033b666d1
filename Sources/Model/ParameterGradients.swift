// ParameterGradients.swift — where the backward passes add parameter gradients.
//
// One flat buffer laid out like a model's trainable storage (ParameterLayout
// order): a trainable parameter's gradient sits at the parameter's own offset,
// so a layer's backward looks its gradients up by the parameters it holds — no
// list of gradient destinations to keep in step with the parameters. A frozen
// parameter (outside that storage) has no gradient; the backward skips its work.

import Tensor

public struct ParameterGradients {
    /// The trainable storage these are the gradients of.
    public let values: ParameterStorage
    /// values.count floats, added into.
    public let buffer: UnsafeMutablePointer<Float>

    public init(values: ParameterStorage, buffer: UnsafeMutablePointer<Float>) {
        self.values = values
        self.buffer = buffer
    }

    /// The gradient of `parameter`, or nil when it is not trainable.
    public subscript(_ parameter: Parameter) -> UnsafeMutablePointer<Float>? {
        parameter.buffer === values ? buffer + parameter.offset : nil
    }

    /// The gradient of a parameter that is always trainable (the adapter's, the head's).
    public func of(_ parameter: Parameter) -> UnsafeMutablePointer<Float> {
        guard let p = self[parameter] else { preconditionFailure("a trainable parameter \(parameter.shape) is not in the gradients' storage") }
        return p
    }
}
