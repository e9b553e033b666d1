// CTFuzz.swift — the fuzzing driver of ctpipe's readers (see docs/reliability.md).
//
//   ctfuzz list                                    the targets
//   ctfuzz replay TARGET FILE...                   runs inputs once, printing what each reader said
//   ctfuzz seed TARGET CORPUS FIXTURE...           writes corpus entries made from fixture files
//   CTFUZZ_TARGET=TARGET ctfuzz [libFuzzer flags] [CORPUS...]
//                                                  fuzzes (a build with -DCTFUZZ_LIBFUZZER, see scripts/fuzz.sh)
//
// CTFUZZ_PIPELINES names a folder whose pipelines the manifest target's workspace gets.
// The target comes from the environment, not the command line, because libFuzzer
// reads every argument itself (and hands them to the processes it starts).

import CTCore
import Foundation
import FuzzTargets

/// What the libFuzzer callback works with (set once, before the driver starts).
nonisolated(unsafe) var fuzzing: (target: FuzzTarget, workspace: FuzzWorkspace)?

#if CTFUZZ_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
#endif

@main
enum CTFuzz {
    static func main() {
        let arguments = CommandLine.arguments
        let environment = ProcessInfo.processInfo.environment
        if let name = environment["CTFUZZ_TARGET"] {
            fuzz(target(name), pipelines: environment["CTFUZZ_PIPELINES"])
        }
        switch arguments.dropFirst().first {
        case "list":
            for t in FuzzTarget.allCases { print("\(t.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(t.summary)") }
        case "replay" where arguments.count >= 4:
            let t = target(arguments[2])
            let workspace = makeWorkspace(pipelines: environment["CTFUZZ_PIPELINES"])
            defer { workspace.remove() }
            for path in arguments[3...] {
                guard let bytes = try? FileBytes.read(path) else { fail("cannot read \(path)") }
                print("\(path):")
                for line in t.run(bytes, in: workspace) { print("  \(line)") }
            }
        case "seed" where arguments.count >= 4:
            let t = target(arguments[2])
            let corpus = arguments[3]
            let workspace = makeWorkspace(pipelines: nil)
            defer { workspace.remove() }
            do { try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true) } catch {
                fail("cannot create \(corpus): \(error.localizedDescription)")
            }
            var entries = t.builtInSeeds(in: workspace)
            for (index, path) in arguments.dropFirst(4).enumerated() {
                guard let bytes = try? FileBytes.read(path) else { fail("cannot read \(path)") }
                entries += t.seeds(fromFixture: bytes, index: index)
            }
            for entry in entries {
                var hash = SHA256()
                hash.update(entry)
                do { try AtomicFile.write(entry, to: corpus + "/" + SHA256.hex(hash.finalize()), durability: .atomic) } catch {
                    fail("\(error)")
                }
            }
            print("ctfuzz: \(entries.count) \(t.rawValue) corpus entries in \(corpus)")
        default:
            FileHandle.standardError.write(Data("""
                usage: ctfuzz list | replay TARGET FILE... | seed TARGET CORPUS FIXTURE...
                       CTFUZZ_TARGET=TARGET ctfuzz [libFuzzer flags] [CORPUS...]   (a libFuzzer build: scripts/fuzz.sh)

                """.utf8))
            exit(64)
        }
    }

    static func target(_ name: String) -> FuzzTarget {
        guard let t = FuzzTarget(rawValue: name) else {
            fail("unknown target '\(name)' (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return t
    }

    static func makeWorkspace(pipelines: String?) -> FuzzWorkspace {
        do { return try FuzzWorkspace(pipelines: pipelines) } catch { fail("cannot make the workspace: \(error)") }
    }

    static func fuzz(_ t: FuzzTarget, pipelines: String?) -> Never {
        #if CTFUZZ_LIBFUZZER
        fuzzing = (t, makeWorkspace(pipelines: pipelines))
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv) { data, count in
            guard let fuzzing else { return 0 }
            let bytes = count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count))
            _ = fuzzing.target.run(bytes, in: fuzzing.workspace)
            return 0
        }
        fuzzing?.workspace.remove()
        exit(status)
        #else
        fail("this ctfuzz was built without libFuzzer; scripts/fuzz.sh builds one that fuzzes")
        #endif
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("ctfuzz: \(message)\n".utf8))
        exit(1)
    }
}
