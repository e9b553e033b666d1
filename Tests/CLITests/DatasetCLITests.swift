// DatasetCLITests.swift — `ctpipe synth` and `ctpipe inspect --dataset` as a
// user runs them: JSON output, exit codes, determinism of the written bytes.

import Foundation
import Testing

@Suite struct DatasetCLITests {
    func temporary() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func files(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? [])
            .filter { !$0.hasPrefix(".") && !FileManager.default.fileExists(atPath: root + "/" + $0 + "/.") }
            .sorted()
    }

    @Test func synthThenInspectScan() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let synth = try CTPipeBinary.run(["synth", "--dataset", "gta5", "--out", dir, "--count", "4", "--size", "48x24"])
        #expect(synth.status == 0, "\(synth.stderr)")
        #expect(try object(synth.stdout)["images"] as? Int == 4)
        let inspect = try CTPipeBinary.run(["inspect", "--dataset", "gta5", dir, "--scan"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let report = try object(inspect.stdout)
        #expect(report["samples"] as? Int == 4)
        #expect((report["problems"] as? [Any])?.isEmpty == true)
        let pixels = try #require(report["class_pixels"] as? [String: Int])
        #expect(Set(pixels.keys) == Set((0 ... 18).map(String.init) + ["255"]))
        #expect(pixels.values.reduce(0, +) == 4 * 48 * 24)
        #expect((report["unknown_values"] as? [String: Int])?.isEmpty == true)
        #expect(report["layout"] as? String == "converted")
        let raw = try object(CTPipeBinary.run(["inspect", "--dataset", "gta5", dir, "--layout", "raw", "--scan"]).stdout)
        #expect(raw["class_pixels"] as? [String: Int] == pixels)
    }

    @Test func problemsGiveExitStatusTwoAndNameTheFile() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CTPipeBinary.run(["synth", "--dataset", "cityscapes", "--out", dir, "--count", "2", "--size", "32x16",
                                      "--split", "val"]).status == 0)
        let labels = files(dir + "/gtFine/val").filter { $0.hasSuffix("_gtFine_labelTrainIds.png") }
        try FileManager.default.removeItem(atPath: dir + "/gtFine/val/" + labels[0])
        let result = try CTPipeBinary.run(["inspect", "--dataset", "cityscapes", dir, "--split", "val"])
        #expect(result.status == 2)
        let report = try object(result.stdout)
        #expect(report["samples"] as? Int == 1)
        let problems = try #require(report["problems"] as? [[String: String]])
        #expect(problems.count == 1)
        #expect(problems[0]["kind"] == "image_without_label")
        #expect(problems[0]["file"]?.hasSuffix(labels[0].replacingOccurrences(of: "gtFine_labelTrainIds", with: "leftImg8bit")) == true)
        #expect(problems[0]["problem"]?.contains("no label file") == true)
        // A corrupt (non-PNG) label is reported by the scan.
        let other = labels[1]
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: dir + "/gtFine/val/" + other))
        let scan = try CTPipeBinary.run(["inspect", "--dataset", "cityscapes", dir, "--split", "val", "--scan"])
        #expect(scan.status == 2)
        let kinds = (try object(scan.stdout)["problems"] as? [[String: String]] ?? []).compactMap { $0["kind"] }
        #expect(kinds.sorted() == ["image_without_label", "unreadable_file"])
    }

    @Test func acdcConditionAndBadArguments() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CTPipeBinary.run(["synth", "--dataset", "acdc", "--out", dir, "--count", "2", "--size", "32x18",
                                      "--condition", "night"]).status == 0)
        let night = try CTPipeBinary.run(["inspect", "--dataset", "acdc", dir, "--condition", "night"])
        let nightSamples = try object(night.stdout)["samples"] as? Int
        #expect(night.status == 0 && nightSamples == 2)
        // All four conditions: three have no folders.
        let all = try CTPipeBinary.run(["inspect", "--dataset", "acdc", dir])
        #expect(all.status == 2)
        #expect(try CTPipeBinary.run(["inspect", "--dataset", "nuscenes", dir]).status != 0)
        let missing = try CTPipeBinary.run(["inspect", "--dataset", "bdd100k", dir + "/nope"])
        #expect(missing.status == 1 && missing.stderr.contains(dir + "/nope"))
        #expect(try CTPipeBinary.run(["inspect", "--dataset", "gta5", dir, "--split", "val"]).status == 1)
        #expect(try CTPipeBinary.run(["inspect", dir, "--scan"]).status != 0)      // --scan needs --dataset
        #expect(try CTPipeBinary.run(["synth", "--dataset", "gta5", "--out", dir, "--size", "big"]).status != 0)
        #expect(try CTPipeBinary.run(["synth", "--dataset", "gta5", "--out", dir, "--condition", "fog"]).status != 0)
    }

    @Test func synthIsDeterministicPerSeed() throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, seed) in [("a", "7"), ("b", "7"), ("c", "8")] {
            let r = try CTPipeBinary.run(["synth", "--dataset", "acdc", "--out", dir + "/" + name, "--count", "2",
                                          "--size", "40x24", "--seed", seed])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let a = files(dir + "/a")
        #expect(a == files(dir + "/b") && a.count == 4 * 2 * 4)
        var same = true, differs = false
        for f in a {
            let x = FileManager.default.contents(atPath: dir + "/a/" + f)
            same = same && x == FileManager.default.contents(atPath: dir + "/b/" + f)
            if let y = FileManager.default.contents(atPath: dir + "/c/" + f) { differs = differs || x != y } else { differs = true }
        }
        #expect(same)
        #expect(differs)
    }
}
