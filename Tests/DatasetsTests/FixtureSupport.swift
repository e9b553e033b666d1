// FixtureSupport.swift — loading the Pillow-written fixture trees and their
// expected results (scripts/make_dataset_fixtures.py), and temporary folders.

import Foundation
import Testing

@testable import Datasets

enum Fixtures {
    static var folder: String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path }
    static var datasets: String { folder + "/datasets" }

    static func json(_ relative: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + relative))
        return try JSONSerialization.jsonObject(with: data)
    }

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

    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: URL(fileURLWithPath: datasets + "/expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data).cases
    }
}

/// A fresh temporary folder, removed by `remove()`.
struct TemporaryFolder {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-datasets-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
