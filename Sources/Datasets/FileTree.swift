// FileTree.swift — recursive file listing in byte order, following symbolic
// links (dataset roots are often links into shared storage).

import CTCore
import Foundation

enum FileTree {
    /// What a path is, symbolic links followed.
    enum Kind: Equatable {
        /// Nothing there (or a dangling link, or no permission to look).
        case missing
        case folder
        case regularFile
        /// A FIFO, socket or device: never read (reading a FIFO blocks).
        case other
    }

    /// The files of a folder tree: regular ones, and the entries that are neither a
    /// file nor a folder (FIFOs, sockets, devices), both relative to the folder.
    struct Listing: Equatable {
        var files: [String]
        var others: [String]
    }

    /// Joins path components with `/` (no normalisation).
    static func join(_ parts: String...) -> String {
        parts.filter { !$0.isEmpty }.joined(separator: "/")
    }

    static func kind(_ path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .folder
        case S_IFREG: return .regularFile
        default: return .other
        }
    }

    static func isDirectory(_ path: String) -> Bool { kind(path) == .folder }

    /// A regular file (not a folder, FIFO, socket or device).
    static func isFile(_ path: String) -> Bool { kind(path) == .regularFile }

    /// The files under `folder`, recursively, as paths relative to it, each list sorted
    /// by their UTF-8 bytes. Hidden entries (leading `.`, e.g. temporary files of an
    /// interrupted atomic write) are skipped. A dangling symbolic link is listed as a
    /// file (reading it then reports it missing). Nil when `folder` is not a folder.
    static func list(under folder: String, maxDepth: Int = 12) -> Listing? {
        guard isDirectory(folder) else { return nil }
        var files: [String] = [], others: [String] = []
        func walk(_ relative: String, depth: Int) {
            let absolute = relative.isEmpty ? folder : folder + "/" + relative
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: absolute) else { return }
            for name in names where !name.hasPrefix(".") {
                let child = relative.isEmpty ? name : relative + "/" + name
                switch kind(folder + "/" + child) {
                case .folder: if depth < maxDepth { walk(child, depth: depth + 1) }
                case .other: others.append(child)
                case .regularFile, .missing: files.append(child)
                }
            }
        }
        walk("", depth: 0)
        return Listing(files: files.sorted(by: byteOrder), others: others.sorted(by: byteOrder))
    }

    /// The regular files under `folder` (see `list(under:)`); nil when it is not a folder.
    static func files(under folder: String, maxDepth: Int = 12) -> [String]? {
        list(under: folder, maxDepth: maxDepth)?.files
    }

    /// Plain byte order of the UTF-8 encodings (locale independent).
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
