// CLISupport.swift — shared plumbing of the subcommands: user-facing errors
// and stderr lines (JSON output is CTCore's PrettyJSON).

import ArgumentParser
import Foundation
import ManifestSchema

/// An error shown to the user as one line on stderr, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The documented limits of the size and count arguments (README "Limits"): a value
/// outside them is a usage error (exit 64) before any work, never an allocation failure.
enum CLILimits {
    /// Longest image side, in pixels.
    static let maxSide = 16_384
    /// Most pixels in one image (64 MP: Mapillary's largest are about 25 MP).
    static let maxPixels = 64 << 20
    /// Largest patch size of a converted backbone.
    static let maxPatch = 64
    /// Largest side of a stored position grid.
    static let maxGrid = 1_024
    /// Most images `synth` writes per call.
    static let maxCount = 100_000
    /// Most threads (`--threads`) and concurrent workers (`--jobs`); the manifest's
    /// `execution.workers` takes the same.
    static let maxThreads = Manifest.ExecutionSpec.workerRange.upperBound
    /// Most attention heads (`--heads`).
    static let maxHeads = 1_024
    /// Highest block index `features --block` names (ViT-g/14 has 40 blocks).
    static let maxBlock = 1_023
    /// Most runs `history --last` shows.
    static let maxLast = 1_000_000

    /// "AxB" with two positive integers, or nil.
    static func sides(_ text: String) -> (Int, Int)? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a > 0, b > 0 else { return nil }
        return (a, b)
    }

    /// Checks an "AxB" image-size argument: its form, each side within 1...maxSide, at most maxPixels.
    static func checkSize(_ text: String, option: String, form: String) throws {
        guard let (a, b) = sides(text) else { throw ValidationError("\(option) must look like \(form) (got '\(text)').") }
        guard a <= maxSide, b <= maxSide, a * b <= maxPixels else {
            throw ValidationError("\(option) \(text) is too large: each side at most \(maxSide) pixels, at most \(maxPixels) pixels in all.")
        }
    }

    /// Checks an integer argument against its documented range.
    static func check(_ value: Int, within range: ClosedRange<Int>, option: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be within \(range.lowerBound)...\(range.upperBound) (got \(value)).")
        }
    }
}
