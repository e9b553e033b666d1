// AveragesSeedsManifestTests.swift — the manifest's `averages` (named means of evaluated
// sets) and `seeds` (one run per seed): what is accepted, how it resolves, and every
// refusal with its JSON path.

import CTCore
import Foundation
import ManifestSchema
import Testing

@Suite struct AveragesSeedsManifestTests {
    static let pipeline = #"{"version": 1, "name": "p", "stages": ["read", "predictions", "metric"]}"#

    /// A manifest over Cityscapes (train and eval), one ACDC fog set and ACDC over all conditions.
    func manifest(_ extra: String, pipeline: String = Self.pipeline) -> String {
        """
        {"version": 1, "name": "avg", "pipeline": \(pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes", "name": "city-train", "split": "train", "role": "train"},
                      {"kind": "cityscapes", "root": "data/cityscapes", "name": "city"},
                      {"kind": "acdc", "root": "data/acdc", "name": "acdc-fog", "condition": "fog"},
                      {"kind": "acdc", "root": "data/acdc", "name": "acdc"}],
         "predictions": {"dir": "preds"}\(extra)}
        """
    }

    func fixture() throws -> ManifestFixture {
        let fixture = try ManifestFixture()
        try FileManager.default.createDirectory(atPath: fixture.folder + "/data/acdc", withIntermediateDirectories: true)
        return fixture
    }

    @Test func averagesResolveInNameOrderAndAreNotHashed() throws {
        let fixture = try fixture()
        let plain = try ManifestLoader.load(try fixture.write(manifest(""), name: "plain.json"))
        #expect(plain.averages.isEmpty, "no averages: the default Avg. over every set")
        let path = try fixture.write(manifest(#", "averages": {"paper": ["acdc"], "Fog": ["acdc-fog", "acdc/fog"], "two": ["city", "acdc/night"]}"#))
        let loaded = try ManifestLoader.load(path)
        #expect(loaded.averages == [
            Manifest.Average(name: "Fog", over: ["acdc-fog", "acdc/fog"]),
            Manifest.Average(name: "paper", over: ["acdc/fog", "acdc/night", "acdc/rain", "acdc/snow"]),
            Manifest.Average(name: "two", over: ["city", "acdc/night"]),
        ])
        #expect(loaded.configurationHash == plain.configurationHash, "averages summarise results; they do not change them")
    }

    @Test func averageProblemsNameTheirPaths() throws {
        let fixture = try fixture()
        let problems = try fixture.problems(manifest("""
        , "averages": {"ACDC": ["acdc-fgo", "city-train", "acdc", "acdc/fog", 3], "empty": [], "a b": ["city"],
                       "city": ["acdc"], "list": "city", ".hidden": ["city"]}
        """))
        #expect(problems == [
            #"$.averages[".hidden"]: a group name may contain only ASCII letters, digits, '-', '_' and '.', may not start with '.', and may not be empty"#,
            #"$.averages.ACDC[0]: "acdc-fgo" is not an evaluated dataset of this manifest (did you mean "acdc-fog"?); evaluated: city, acdc-fog, acdc (ACDC condition sets as <name>/<condition>)"#,
            #"$.averages.ACDC[1]: "city-train" is a training dataset (role train); only evaluated datasets are averaged"#,
            #"$.averages.ACDC[3]: "acdc/fog" is already in this average"#,
            #"$.averages.ACDC[4]: expected a dataset name (a string), found an integer"#,
            #"$.averages["a b"]: a group name may contain only ASCII letters, digits, '-', '_' and '.', may not start with '.', and may not be empty"#,
            #"$.averages.city: "city" is also the name of an evaluated set; give the average another name"#,
            #"$.averages.empty: an average needs at least one evaluated dataset"#,
            #"$.averages.list: expected an array of evaluated dataset names, found a string"#,
        ], "\(problems)")

        #expect(try fixture.problems(manifest(#", "averages": ["city"]"#))
            == [#"$.averages: expected an object of named groups, e.g. {"ACDC": ["acdc-fog", "acdc-night"]}, found an array"#])
        #expect(try fixture.problems(manifest(#", "averages": {}"#))
            == ["$.averages: names no group; leave it out for the default Avg. over every evaluated set"])
        let noMetric = #"{"version": 1, "name": "p", "stages": ["read", "predictions", "write"]}"#
        #expect(try fixture.problems(manifest(#", "averages": {"all": ["city"]}, "outputs": {"formats": ["trainid"]}"#, pipeline: noMetric))
            == ["$.averages: the pipeline has no metric stage, so there are no mIoUs to average"])
    }

    @Test func seedsResolveToOneManifestPerSeed() throws {
        let fixture = try fixture()
        let sweep = try ManifestLoader.load(try fixture.write(manifest(#", "seeds": [2, 0, 7]"#)))
        #expect(sweep.seeds == [2, 0, 7])
        #expect(sweep.seed == 2, "the first seed stands for the sweep")
        let single = try ManifestLoader.load(try fixture.write(manifest(#", "seed": 7"#), name: "single.json"))
        #expect(single.seeds == nil)
        let seven = sweep.run(seed: 7)
        #expect(seven.seed == 7 && seven.seeds == nil)
        #expect(seven.configurationHash == single.configurationHash, "a seed's run is the manifest with that seed")
        #expect(seven.resolved == single.resolved)
        #expect(sweep.configurationHash != single.configurationHash && sweep.run(seed: 0).configurationHash != single.configurationHash)
    }

    @Test func seedProblemsNameTheirPaths() throws {
        let fixture = try fixture()
        #expect(try fixture.problems(manifest(#", "seeds": []"#)) == ["$.seeds: at least one seed is needed (or leave seeds out and give seed)"])
        #expect(try fixture.problems(manifest(#", "seeds": [0, 1, 0, 1]"#))
            == ["$.seeds[2]: 0 is already $.seeds[0]; each seed runs once", "$.seeds[3]: 1 is already $.seeds[1]; each seed runs once"])
        #expect(try fixture.problems(manifest(#", "seeds": [1, -1]"#)) == ["$.seeds[1]: -1 is out of range 0...2147483647"])
        #expect(try fixture.problems(manifest(#", "seeds": [0.5, "1"]"#))
            == ["$.seeds[0]: expected an integer, found a number", "$.seeds[1]: expected an integer, found a string"])
        #expect(try fixture.problems(manifest(#", "seeds": 3"#)) == ["$.seeds: expected an array of seeds, e.g. [0, 1, 2], found an integer"])
        #expect(try fixture.problems(manifest(#", "seed": 1, "seeds": [0, 1]"#))
            == ["$.seeds: give either seed (one run) or seeds (one run per seed), not both"])
    }
}
