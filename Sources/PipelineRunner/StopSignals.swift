// StopSignals.swift — SIGINT/SIGTERM stop a run cleanly after the samples in
// hand; a second signal exits at once (completed shards are already on disk).
// The second exit is `_exit(130)`: no atexit handlers or library destructors
// run (OpenBLAS's teardown while worker threads still run its kernels could
// crash), and nothing but the flag is touched.

import Dispatch
import Foundation

public enum StopSignals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Installs handlers that set `flag` on the first SIGINT/SIGTERM and exit
    /// with status 130 on the second. Call once per process.
    public static func install(_ flag: StopFlag, notice: @escaping @Sendable (String) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if flag.isSet { _exit(130) }
                flag.set()
                notice("ctpipe: stopping after the samples in hand (signal again to quit now); resume with --resume")
            }
            source.resume()
            sources.append(source)
        }
    }
}
