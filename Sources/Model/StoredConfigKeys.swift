// StoredConfigKeys.swift — the configurations a checkpoint stores (its
// `ctpipe.config` JSON) are read strictly: a key this version does not know is
// refused, naming it, instead of being ignored (a setting that would change the
// model must not be dropped silently). The known keys are the types' own coding
// keys.

import Foundation

enum StoredConfigKeys {
    /// A JSON object's allowed keys, and the objects nested under some of them.
    struct Schema {
        var keys: [String]
        var nested: [String: Schema] = [:]
    }

    static let adapter = Schema(keys: AdapterConfig.CodingKeys.allCases.map(\.stringValue))
    static let backbone = Schema(keys: DINOv2Config.CodingKeys.allCases.map(\.stringValue))
    static let segmentation = Schema(keys: SegmentationConfig.CodingKeys.allCases.map(\.stringValue),
                                     nested: ["adapter": adapter, "backbone": backbone,
                                              "head": Schema(keys: LinearHeadConfig.CodingKeys.allCases.map(\.stringValue))])
    static let mask2former = Schema(keys: ["version", "backbone", "mask2former"], nested: [
        "backbone": backbone,
        "mask2former": Schema(keys: Mask2FormerConfig.CodingKeys.allCases.map(\.stringValue), nested: [
            "adapter": adapter,
            "pixel_decoder": Schema(keys: PixelDecoderConfig.CodingKeys.allCases.map(\.stringValue)),
            "decoder": Schema(keys: Mask2FormerDecoderConfig.CodingKeys.allCases.map(\.stringValue)),
        ]),
    ])

    /// A backbone file (`DINOv2Weights.ctpipeFile`): `{"backbone": {...}}`.
    static let backboneFile = Schema(keys: ["backbone"], nested: ["backbone": backbone])

    /// The schema of any ctpipe file the backbone reader may be given: a backbone file,
    /// a Mask2Former file (it has `mask2former`), or a linear-head checkpoint (any other
    /// key a backbone file does not have).
    static func ctpipeFile(_ object: [String: Any]) -> Schema {
        if object["mask2former"] != nil { return mask2former }
        return object.keys.allSatisfy(backboneFile.keys.contains) ? backboneFile : segmentation
    }

    /// The first key of `json` (a JSON object's text) that `schema` does not know, as a dotted path.
    static func unknownKey(in json: String, schema: Schema) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        return unknownKey(object, schema, path: "")
    }

    static func unknownKey(_ object: [String: Any], _ schema: Schema, path: String) -> String? {
        for key in object.keys.sorted() {
            guard schema.keys.contains(key) else { return path + key }
            if let inner = schema.nested[key], let value = object[key] as? [String: Any],
               let unknown = unknownKey(value, inner, path: path + key + ".") {
                return unknown
            }
        }
        return nil
    }
}
