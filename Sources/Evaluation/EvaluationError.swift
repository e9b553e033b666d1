// EvaluationError.swift — why one image or sample could not be evaluated, by
// step of the evaluation path. The description is the failing step's own
// message, so every caller reports it in the words it always did.

import Augment
import Datasets
import Inference

public enum EvaluationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The sample's image or label could not be read (or their sizes disagree when that is checked).
    case load(DatasetProblem)
    /// The test pipeline refused the image (resize, normalisation).
    case resize(AugmentError)
    /// Slide inference failed.
    case infer(InferenceError)

    public var description: String {
        switch self {
        case .load(let problem): "\(problem)"
        case .resize(let error): "\(error)"
        case .infer(let error): "\(error)"
        }
    }
}
