// GradientCase.swift — the cases of gradient_cases.json (scripts/make_training_fixtures.py):
// each names a checkpoint, its two-image batch and the reference loss.

import TestSupport

struct GradientCase: Decodable {
    let name: String
    let height: Int
    let width: Int
    let loss: Double
    let pixels: Int
    let tensors: Int

    static func all() throws -> [GradientCase] {
        try fixtures.decode([GradientCase].self, from: "gradient_cases.json")
    }
}
