// FileTree.swift — recursive file listing in byte order, following symbolic
// links (dataset roots are often links into shared storage).

import Foundation

enum FileTree {
    /// Joins path components with `/` (no normalisation).
    static func join(_ parts: String...) -> String {
        parts.filter { !$0.isEmpty }.joined(separator: "/")
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func isFile(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// Regular files under `folder`, recursively, as paths relative to it, sorted
    /// by their UTF-8 bytes. Hidden entries (leading `.`, e.g. temporary files of
    /// an interrupted atomic write) are skipped. Nil when `folder` is not a folder.
    static func files(under folder: String, maxDepth: Int = 12) -> [String]? {
        guard isDirectory(folder) else { return nil }
        var out: [String] = []
        func walk(_ relative: String, depth: Int) {
            let absolute = relative.isEmpty ? folder : folder + "/" + relative
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: absolute) else { return }
            for name in names where !name.hasPrefix(".") {
                let child = relative.isEmpty ? name : relative + "/" + name
                if isDirectory(folder + "/" + child) {
                    if depth < maxDepth { walk(child, depth: depth + 1) }
                } else {
                    out.append(child)
                }
            }
        }
        walk("", depth: 0)
        return out.sorted(by: byteOrder)
    }

    /// Plain byte order of the UTF-8 encodings (locale independent).
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
