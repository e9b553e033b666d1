// DatasetCases.swift — the Pillow-written fixture trees and their expected
// results (scripts/make_dataset_fixtures.py, datasets/expected.json).

import TestSupport

enum DatasetCases {
    /// The folder of the fixture dataset trees.
    static var folder: String { fixtures.path("datasets") }

    struct ExpectedSample: Decodable {
        var id: String
        var image: String
        var label: String
        var width: Int
        var height: Int
        var train_ids: [Int]
        var city: String?
        var condition: String?
        var sequence: String?
        var original_width: Int?
        var original_height: Int?
    }

    struct ExpectedProblem: Decodable, Hashable {
        var file: String
        var kind: String
    }

    struct Case: Decodable, CustomStringConvertible {
        var dataset: String
        var root: String
        var split: String?
        var condition: String?
        var layout: String
        var resolved: String
        var samples: [ExpectedSample]?
        var sample_ids: [String]?
        var problems: [ExpectedProblem]
        var scan_problems: [ExpectedProblem]?
        var unknown_values: [String: Int]?
        var description: String { "\(dataset) \(root) \(split ?? "-") \(condition ?? "") \(layout)" }
    }

    struct Expected: Decodable { var cases: [Case] }

    static func all() throws -> [Case] {
        try fixtures.decode(Expected.self, from: "datasets/expected.json").cases
    }
}
