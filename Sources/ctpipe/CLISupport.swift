// CLISupport.swift — shared plumbing of the subcommands: user-facing errors
// and stderr lines (JSON output is CTCore's PrettyJSON).

import ArgumentParser
import Foundation

/// An error shown to the user as one line on stderr, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
