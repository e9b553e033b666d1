// LabelTableTests.swift — the generated Swift tables and the encodings'
// lookup tables against the reference JSON tables.

import CTCore
import Foundation
import TestSupport
import Testing

@testable import Datasets

@Suite struct LabelTableTests {
    @Test func cityscapesLUTMatchesJSON() throws {
        let table = try #require(fixtures.jsonObject("labels/cityscapes.json") as? [String: Any])
        let lut = try #require(table["idToTrainId"] as? [Int])
        #expect(lut.map(UInt8.init) == LabelEncoding.cityscapesLabelIds.lut)
        let labels = try #require(table["labels"] as? [[String: Any]])
        #expect(labels.count == LabelTables.cityscapesLabels.count)
        for (row, label) in zip(labels, LabelTables.cityscapesLabels) {
            #expect(row["id"] as? Int == label.id)
            #expect(row["name"] as? String == label.name)
            #expect(row["trainId"] as? Int == label.trainId)
            let color = try #require(row["color"] as? [Int])
            #expect(color == [Int(label.color.0), Int(label.color.1), Int(label.color.2)])
        }
        let trainClasses = try #require(table["trainClasses"] as? [[String: Any]])
        #expect(trainClasses.compactMap { $0["name"] as? String } == CityscapesClasses.names)
        // Known values: exactly the labelIds 0...33.
        #expect((0 ..< 256).filter { LabelEncoding.cityscapesLabelIds.known[$0] } == Array(0 ... 33))
    }

    @Test func gta5LUTMatchesJSON() throws {
        let table = try #require(fixtures.jsonObject("labels/gta5.json") as? [String: Any])
        let lut = try #require(table["lut"] as? [Int])
        #expect(lut.map(UInt8.init) == LabelEncoding.gta5LabelIds.lut)
        let pairs = try #require(table["idToTrainId"] as? [String: Int])
        for (id, trainId) in pairs { #expect(LabelEncoding.gta5LabelIds.lut[Int(id)!] == UInt8(trainId)) }
        #expect(LabelEncoding.gta5LabelIds.lut.filter { $0 != 255 }.count == 19)
    }

    @Test func trainIdEncodingIsIdentity() {
        let e = LabelEncoding.trainIds
        for v in 0 ..< 256 {
            #expect(e.lut[v] == (v <= 18 ? UInt8(v) : 255))
            #expect(e.known[v] == (v <= 18 || v == 255))
        }
    }

    @Test func bddColoursMatchJSON() throws {
        let table = try #require(fixtures.jsonObject("labels/bdd100k.json") as? [String: Any])
        let classes = try #require(table["classes"] as? [[String: Any]])
        for (i, c) in classes.enumerated() {
            let color = try #require(c["colorInSemSegToml"] as? [Int])
            let mine = LabelTables.bdd100kColormapColors[i]
            #expect(color == [Int(mine.0), Int(mine.1), Int(mine.2)])
            #expect(c["name"] as? String == CityscapesClasses.names[i])
        }
    }

    @Test func mapillaryNameRuleReproducesReferenceLUT() throws {
        let table = try #require(fixtures.jsonObject("labels/mapillary_v1.2.json") as? [String: Any])
        let lut = try #require(table["lut"] as? [Int])
        let config = try MapillaryConfig.read(fixtures.path("labels/mapillary_config_v1.2.json"))
        #expect(config == MapillaryConfig.v12)
        #expect(config.trainIds.map(Int.init) == lut)
        #expect(LabelTables.mapillaryV12ToTrainId.map(Int.init) == lut)
        let encoding = LabelEncoding.mapillary(version: "v1.2", trainIds: config.trainIds)
        #expect((0 ..< 256).filter { encoding.known[$0] } == Array(0 ... 65))
    }

    @Test func mapillaryRuleBranches() {
        #expect(MapillaryConfig.trainId(readable: "Traffic Sign Frame") == 7)   // sign before pole
        #expect(MapillaryConfig.trainId(readable: "Traffic Light - Cyclists") == 12)
        #expect(MapillaryConfig.trainId(readable: "Parking Meter") == 0)
        #expect(MapillaryConfig.trainId(readable: "Pole Group") == 5)
        #expect(MapillaryConfig.trainId(readable: "Person Group") == 255)
        #expect(MapillaryConfig.trainId(readable: "On Rails") == 16)
    }

    @Test func generatedConfigTextParsesBack() throws {
        let text = MapillaryConfig.v12.jsonText()
        #expect(text.hasPrefix("{\"labels\": [{\"color\": [165, 42, 42], \"instances\": true, \"readable\": \"Bird\""))
        #expect(try MapillaryConfig.parse(Array(text.utf8), path: "generated") == MapillaryConfig.v12)
    }

    /// The generator's fine classes must agree across encodings: the trainId a
    /// Cityscapes reader gets equals the one a Mapillary reader gets, except for
    /// classes the two datasets define differently (manhole: road vs. ignored).
    @Test func sceneClassesAgreeAcrossEncodings() throws {
        let table = try #require(fixtures.jsonObject("labels/mapillary_v1.2.json") as? [String: Any])
        let lut = try #require(table["lut"] as? [Int])
        for cls in SceneClass.allCases {
            let viaMapillary = UInt8(lut[Int(cls.mapillaryIndex)])
            if cls == .manhole { #expect(viaMapillary == 255 && cls.trainId == 0); continue }
            #expect(viaMapillary == cls.trainId, "\(cls)")
        }
        #expect(Set(SceneClass.allCases.map(\.trainId)) == Set((0 ... 18).map(UInt8.init) + [255]))
    }
}
