// CompletionFlags.swift — the options `run` and `merge` share for the end of a
// run (history, regression check, report), and how its outcome becomes
// messages and an exit status.

import ArgumentParser
import PipelineRunner
import RunReports

struct CompletionFlags: ParsableArguments {
    @Option(name: .customLong("history"), help: ArgumentHelp("Record into this SQLite file instead of the manifest's history.db.", valueName: "PATH"))
    var history: String?

    @Flag(name: .customLong("no-history"), help: "Do not record the run in the results history (and check no regression).")
    var noHistory = false

    @Flag(name: .customLong("no-report"), help: "Do not write report.html.")
    var noReport = false

    var options: CompletionOptions {
        var options = CompletionOptions()
        options.historyDatabase = history
        options.record = !noHistory
        options.report = !noReport
        return options
    }

    /// Prints what the end of the run did; exits 5 when nothing was done (an empty eval
    /// dataset, no sample processed, nothing scored), 4 on a regression, 1 when a step failed.
    static func conclude(_ outcome: RunCompletion) throws {
        let status = describe(outcome)
        if status != 0 { throw ExitCode(status) }
    }

    /// Prints what the end of the run did and returns its exit status (`RunCompletion.exitStatus`).
    @discardableResult
    static func describe(_ outcome: RunCompletion) -> Int32 {
        if let reason = outcome.nothingDone {
            if let file = outcome.reportFile { printError("report: \(file)") }
            printError("error: nothing done: \(reason); nothing was recorded in the history")
            return outcome.exitStatus
        }
        if let db = outcome.historyDatabase { printError("recorded \(outcome.runID) in \(db)") }
        if let file = outcome.reportFile { printError("report: \(file)") }
        for error in outcome.errors { printError("error: \(error)") }
        if let regression = outcome.regression { printError(regression.summary) }
        return outcome.exitStatus
    }
}
