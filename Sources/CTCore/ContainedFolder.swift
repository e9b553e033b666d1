// ContainedFolder.swift — the one check every writer into a run folder (and
// into `infer --out-dir`) goes through: a file is named by path components
// below the folder, never by a joined string. Each component must be one
// plain name (not empty, not `.` or `..`, no `/`, NUL or control character);
// the parent folders are created one at a time, each checked to resolve
// inside the folder before anything is created in it, so a symbolic link in
// the folder that points elsewhere is refused before any write, and nothing
// is created outside. Checked at each write; a process changing the folder
// between the check and the write is outside what this guards against.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A path refused because it would not stay inside its folder, naming the path and why.
public struct ContainmentError: ReasonedError, Equatable {
    public let path: String, reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var subject: String? { path }
}

/// A folder written only inside: `root` (created by its owner), viewed from `base` below it.
public struct ContainedFolder: Sendable, Equatable {
    /// The folder nothing may leave (a run folder, `infer --out-dir`).
    public let root: String
    /// Components below `root` where this view starts (e.g. `outputs/<dataset>`); checked with each file.
    public let base: [String]

    public init(root: String, base: [String] = []) {
        self.root = root
        self.base = base
    }

    /// The same root, viewed from `components` further down.
    public func below(_ components: [String]) -> ContainedFolder {
        ContainedFolder(root: root, base: base + components)
    }

    /// The path of `components` below the view, joined without any check (for reading and messages).
    public func joined(_ components: [String]) -> String {
        ([root] + base + components).joined(separator: "/")
    }

    /// Why `component` cannot be one name in a path, or nil.
    public static func componentProblem(_ component: String) -> String? {
        if component.isEmpty { return "an empty name" }
        if component == "." || component == ".." { return "'\(component)' would leave its folder" }
        if component.contains("/") { return "a name holds '/'" }
        if component.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F ... 0x9F).contains($0.value) }) {
            return "a name holds a NUL or control character"
        }
        return nil
    }

    /// A relative path (a sample id such as `frankfurt/frankfurt_000000_000294`) as checked
    /// components; an empty part (`a//b`, a leading or trailing `/`) is refused like `..`.
    public func components(of relative: String) throws(ContainmentError) -> [String] {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts {
            if let problem = Self.componentProblem(part) {
                throw ContainmentError(path: joined([relative]), reason: "refused: \(problem) in '\(relative)'; ctpipe writes only inside \(root)")
            }
        }
        return parts
    }

    /// `components` (with the view's base) checked one by one: each must be one plain name.
    @discardableResult
    public func checked(_ components: [String]) throws(ContainmentError) -> [String] {
        for component in base + components {
            if let problem = Self.componentProblem(component) {
                throw ContainmentError(path: joined(components),
                                       reason: "refused: \(problem) ('\(component)'); ctpipe writes only inside \(root)")
            }
        }
        return components
    }

    /// The path of the file at `components` below the view, ready to be written: every component
    /// checked, the parent folders created (one at a time, none through a link that leaves the
    /// root), the parent's real path checked to lie inside the root's, and an existing link at
    /// the file's own place checked to resolve inside it too.
    public func file(_ components: [String]) throws(ContainmentError) -> String {
        let all = base + components
        let path = joined(components)
        guard !components.isEmpty else { throw ContainmentError(path: path, reason: "refused: no file name") }
        try checked(components)
        guard let resolvedRoot = Self.realPath(root) else {
            throw ContainmentError(path: path, reason: "refused: the folder \(root) does not exist")
        }
        var current = root
        for component in all.dropLast() {
            current += "/" + component
            if mkdir(current, 0o755) != 0 {
                let code = errno
                guard code == EEXIST else {
                    throw ContainmentError(path: path, reason: "cannot create folder \(current): \(String(cString: strerror(code)))")
                }
                var info = stat()
                guard lstat(current, &info) == 0 else {
                    throw ContainmentError(path: path, reason: "cannot read folder \(current): \(String(cString: strerror(errno)))")
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: break
                case S_IFLNK: try Self.inside(current, root: resolvedRoot, named: root, for: path)
                default: throw ContainmentError(path: path, reason: "refused: \(current) is not a folder")
                }
            }
        }
        // The parent's real path, whatever led there; then a link standing where the file goes.
        try Self.inside(current, root: resolvedRoot, named: root, for: path)
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            try Self.inside(path, root: resolvedRoot, named: root, for: path)
        }
        return path
    }

    /// Throws unless `path` resolves (symbolic links followed) to `root` or below it.
    static func inside(_ path: String, root resolvedRoot: String, named root: String, for file: String) throws(ContainmentError) {
        guard let resolved = realPath(path) else {
            throw ContainmentError(path: file, reason: "refused: \(path) is a symbolic link to nothing; ctpipe writes only inside \(root)")
        }
        let prefix = resolvedRoot.hasSuffix("/") ? resolvedRoot : resolvedRoot + "/"
        guard resolved == resolvedRoot || resolved.hasPrefix(prefix) else {
            throw ContainmentError(path: file, reason: "refused: \(path) resolves to \(resolved), outside \(root) (\(resolvedRoot)); ctpipe writes only inside it")
        }
    }

    /// `realpath(3)`, or nil when the path (or a link's target) does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
