// TextEscaping.swift — escaping text for the formats ctpipe writes by hand:
// JSON string literals (JSONText: metrics.json, safetensors headers, Mapillary
// configs) and HTML/SVG text (report.html and its charts). One pass serves both;
// each format names what it replaces and whether it reads the text scalar by
// scalar (JSON) or character by character (HTML).

public enum TextEscaping {
    /// `units` joined, with every unit found in `table` replaced by its entry and every
    /// other unit for which `otherwise` returns a string replaced by that.
    public static func escaping<Units: Sequence>(_ units: Units, _ table: [Units.Element: String],
                                                 otherwise: (Units.Element) -> String? = { _ in nil }) -> String
    where Units.Element: Hashable & TextOutputStreamable {
        var out = ""
        out.reserveCapacity(units.underestimatedCount)
        for unit in units {
            if let replacement = table[unit] ?? otherwise(unit) {
                out += replacement
            } else {
                unit.write(to: &out)
            }
        }
        return out
    }

    /// The HTML entities of `html`: & < > " and '.
    static let htmlEntities: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"]

    /// Text for HTML/SVG content and attribute values.
    public static func html(_ text: String) -> String { escaping(text, htmlEntities) }
}
