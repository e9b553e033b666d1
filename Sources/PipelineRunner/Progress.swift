// Progress.swift — progress on stderr: a redrawn bar with count, rate and ETA
// when stderr is a terminal; plain lines every few seconds otherwise (cron, CI).

import Foundation
import Synchronization

public final class Progress: Sendable {
    private struct State {
        var done = 0
        var lastPrint = Date.distantPast
    }
    public let label: String
    public let total: Int
    private let start = Date()
    private let interactive: Bool
    private let interval: TimeInterval
    private let state = Mutex(State())
    private let quiet: Bool

    /// `quiet` suppresses all output (tests, --quiet).
    public init(label: String, total: Int, quiet: Bool = false, interval: TimeInterval = 10) {
        self.label = label
        self.total = total
        self.quiet = quiet
        self.interactive = isatty(STDERR_FILENO) == 1
        self.interval = interactive ? 0.2 : interval
    }

    /// Counts `n` more finished items and redraws when due.
    public func advance(_ n: Int = 1) {
        guard !quiet else { return }
        let line: String? = state.withLock { s in
            s.done += n
            let now = Date()
            guard s.done >= total || now.timeIntervalSince(s.lastPrint) >= interval else { return nil }
            s.lastPrint = now
            return render(done: s.done, now: now)
        }
        if let line { emit(line) }
    }

    /// Ends the bar line (terminal) or prints the final count.
    public func finish() {
        guard !quiet else { return }
        let line = state.withLock { s in render(done: s.done, now: Date()) }
        emit(line, final: true)
    }

    private func render(done: Int, now: Date) -> String {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let percent = total > 0 ? 100 * done / total : 100
        let stats = "\(done)/\(total) \(String(format: "%.2f", rate))/s ETA \(Self.duration(remaining))"
        if interactive {
            let width = 24
            let filled = total > 0 ? width * done / total : width
            return "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(percent)% \(stats)"
        }
        return "\(label): \(percent)% \(stats)"
    }

    private func emit(_ line: String, final: Bool = false) {
        let text = interactive ? "\r\u{1B}[2K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : "\(s / 60)m\(String(format: "%02d", s % 60))s"
    }
}
