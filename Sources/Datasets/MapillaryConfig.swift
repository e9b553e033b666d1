// MapillaryConfig.swift — Mapillary Vistas `config_v1.2.json` / `config_v2.0.json`:
// the label list, and the Rein/Causal-Tune name rule (mapillary2cityscape.py)
// that maps each label to one of the 19 trainIds.

import CTCore
import Foundation

/// The `labels` list of a Mapillary config file, in file order (index = pixel value).
public struct MapillaryConfig: Sendable, Equatable {
    public var labels: [MapillaryLabel]

    public init(labels: [MapillaryLabel]) { self.labels = labels }

    /// The v1.2 config as shipped (embedded copy).
    public static let v12 = MapillaryConfig(labels: LabelTables.mapillaryV12Labels)

    /// Parses a config file; unknown keys are ignored. Errors name the file and field.
    public static func read(_ path: String) throws(DatasetProblem) -> MapillaryConfig {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(path) } catch {
            throw DatasetProblem(file: path, kind: .badConfig, message: "cannot read Mapillary config: \(error.reason)")
        }
        return try parse(bytes, path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(DatasetProblem) -> MapillaryConfig {
        func bad(_ what: String) -> DatasetProblem {
            DatasetProblem(file: path, kind: .badConfig, message: "malformed Mapillary config: \(what)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes)) } catch {
            throw bad("not JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else { throw bad("top level is not an object") }
        guard let list = top["labels"] as? [Any] else { throw bad("no `labels` list") }
        guard !list.isEmpty, list.count <= 256 else { throw bad("`labels` has \(list.count) entries (need 1...256)") }
        var labels: [MapillaryLabel] = []
        for (index, entry) in list.enumerated() {
            guard let item = entry as? [String: Any] else { throw bad("labels[\(index)] is not an object") }
            guard let readable = item["readable"] as? String else { throw bad("labels[\(index)].readable missing") }
            let name = item["name"] as? String ?? ""
            var color: (UInt8, UInt8, UInt8) = (0, 0, 0)
            if let c = item["color"] as? [Any] {
                let v = c.compactMap { ($0 as? NSNumber)?.intValue }
                guard v.count == 3, v.allSatisfy({ (0 ... 255).contains($0) }) else {
                    throw bad("labels[\(index)].color is not three values 0...255")
                }
                color = (UInt8(v[0]), UInt8(v[1]), UInt8(v[2]))
            }
            labels.append(MapillaryLabel(name: name, readable: readable, color: color,
                                         instances: (item["instances"] as? Bool) ?? false,
                                         evaluate: (item["evaluate"] as? Bool) ?? true))
        }
        return MapillaryConfig(labels: labels)
    }

    /// trainId of each label under the name rule.
    public var trainIds: [UInt8] { labels.map { MapillaryConfig.trainId(readable: $0.readable) } }

    /// Palette bytes (RGB triples) in label order.
    public var palette: [UInt8] { labels.flatMap { [$0.color.0, $0.color.1, $0.color.2] } }

    /// The training class names without spaces, index = trainId ("trafficlight", ...).
    private static let spacelessClassNames = CityscapesClasses.names.map { $0.filter { $0 != " " } }

    /// The Rein/Causal-Tune rule: lower-case, drop spaces and `-`, then the first
    /// matching branch (exact class name; `trafficsign`/`front`/`back` -> sign;
    /// `onrail` -> train; `cyclist`/`rider` -> rider; `pole`/`streetlight` -> pole;
    /// `curb`/`pedestrianarea` -> sidewalk; crosswalk/parking/lanes -> road; else 255).
    public static func trainId(readable: String) -> UInt8 {
        let n = readable.lowercased().filter { $0 != " " && $0 != "-" }
        if let i = spacelessClassNames.firstIndex(of: n) { return UInt8(i) }
        func has(_ words: String...) -> Bool { words.contains { n.contains($0) } }
        if has("trafficsign", "front", "back") { return 7 }
        if has("onrail") { return 16 }
        if has("cyclist", "rider") { return 12 }
        if has("pole", "streetlight") { return 5 }
        if has("curb", "pedestrianarea") { return 1 }
        if has("crosswalkplain", "parking", "bikelane", "servicelane", "lanemarking") { return 0 }
        return 255
    }

    /// The file text of a `config_v1.2.json` with the original key order
    /// (color, instances, readable, name, evaluate).
    public func jsonText() -> String {
        let rows = labels.map { l in
            "{\"color\": [\(l.color.0), \(l.color.1), \(l.color.2)], \"instances\": \(l.instances), "
                + "\"readable\": \(JSONText.quote(l.readable)), \"name\": \(JSONText.quote(l.name)), \"evaluate\": \(l.evaluate)}"
        }
        return "{\"labels\": [" + rows.joined(separator: ", ") + "]}\n"
    }
}
