// Communicator.swift — the processes of one job as the rest of ctpipe sees
// them: this process's rank, their count, how many share this machine, and the
// few collective operations data-parallel training needs (allgather of float
// and double buffers, broadcast of bytes, barrier, abort).
//
// MPI (Open MPI, CMPI) is initialised only when a launcher started the process
// (mpirun/mpiexec set OMPI_COMM_WORLD_SIZE, srun sets PMI_SIZE or PMIX_RANK);
// otherwise `Communicator.single` is used and MPI is never touched, so a plain
// `ctpipe run` behaves exactly as without MPI. Errors of MPI calls are fatal
// (MPI_ERRORS_ARE_FATAL, the default of MPI_COMM_WORLD): a failing collective
// ends the whole job instead of returning, and mpirun ends every rank when one
// exits without finishing or is killed, so no rank waits forever.
//
// MPI is process-wide state: `start` initialises it at most once and `finish`
// ends it; between them the main thread alone calls it (MPI_THREAD_FUNNELED).

import CMPI
import Foundation

/// A problem with a collective operation's arguments (the MPI calls themselves abort the job on failure).
public struct DistributedError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public struct Communicator: Sendable, CustomStringConvertible {
    /// This process's rank, 0 ..< size.
    public let rank: Int
    /// Processes in the job.
    public let size: Int
    /// Processes of the job on this machine (including this one).
    public let localSize: Int
    /// Whether MPI was initialised (false: one process, nothing to communicate).
    public let usesMPI: Bool

    /// One process, no MPI.
    public static let single = Communicator(rank: 0, size: 1, localSize: 1, usesMPI: false)

    init(rank: Int, size: Int, localSize: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
        self.usesMPI = usesMPI
    }

    /// Rank 0: the one process that writes the run folder's files.
    public var isRoot: Bool { rank == 0 }

    public var description: String { usesMPI ? "rank \(rank) of \(size) (\(localSize) on this machine)" : "one process" }

    /// The environment variables a launcher sets: mpirun/mpiexec (Open MPI), srun (PMI-1/2, PMIx).
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]

    /// Whether `environment` shows a process started by mpirun or srun.
    public static func launched(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        launcherVariables.contains { environment[$0] != nil }
    }

    private static let started = StartOnce()

    /// The job's communicator: MPI's world when launched by mpirun/srun (initialised here, once per
    /// process), else `single`.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) -> Communicator {
        guard launched(environment: environment) else { return .single }
        return started.value
    }

    /// Cores of this machine for this process: the machine's cores shared evenly among the job's
    /// processes on it, at least 1 (docs/threading.md).
    public func cores(machineCores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        max(1, machineCores / max(1, localSize))
    }

    /// Every rank's `values` (the same count on every rank), in rank order.
    public func allgather(_ values: [Float]) throws(DistributedError) -> [Float] {
        try gather(values, type: ct_mpi_float())
    }

    /// Every rank's `values` (the same count on every rank), in rank order.
    public func allgather(_ values: [Double]) throws(DistributedError) -> [Double] {
        try gather(values, type: ct_mpi_double())
    }

    private func gather<T: BitwiseCopyable>(_ values: [T], type: MPI_Datatype?) throws(DistributedError) -> [T] {
        guard usesMPI, size > 1 else { return values }
        guard values.count <= Int(Int32.max), values.count * size <= Int.max / MemoryLayout<T>.stride else {
            throw DistributedError("allgather of \(values.count) values per rank is beyond MPI's counts (at most \(Int32.max))")
        }
        var out = [T](unsafeUninitializedCapacity: values.count * size) { _, count in count = values.count * size }
        values.withUnsafeBufferPointer { send in
            out.withUnsafeMutableBufferPointer { receive in
                _ = MPI_Allgather(send.baseAddress, Int32(values.count), type, receive.baseAddress, Int32(values.count), type,
                                  ct_mpi_comm_world())
            }
        }
        return out
    }

    /// `bytes` of rank `root`, on every rank (the other ranks' arguments are ignored).
    public func broadcast(_ bytes: [UInt8], from root: Int = 0) throws(DistributedError) -> [UInt8] {
        guard usesMPI, size > 1 else { return bytes }
        var count = [Int64(bytes.count)]
        count.withUnsafeMutableBufferPointer { _ = MPI_Bcast($0.baseAddress, 8, ct_mpi_byte(), Int32(root), ct_mpi_comm_world()) }
        guard count[0] >= 0, count[0] <= Int64(Int32.max) else {
            throw DistributedError("broadcast of \(count[0]) bytes is beyond MPI's counts (at most \(Int32.max))")
        }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[0]))
        out.withUnsafeMutableBufferPointer { _ = MPI_Bcast($0.baseAddress, Int32(count[0]), ct_mpi_byte(), Int32(root), ct_mpi_comm_world()) }
        return out
    }

    /// `text` of rank `root`, on every rank.
    public func broadcast(_ text: String, from root: Int = 0) throws(DistributedError) -> String {
        String(decoding: try broadcast(Array(text.utf8), from: root), as: UTF8.self)
    }

    /// Waits until every rank has arrived.
    public func barrier() {
        guard usesMPI, size > 1 else { return }
        _ = MPI_Barrier(ct_mpi_comm_world())
    }

    /// Ends every process of the job with `code` (one process: exits).
    public func abort(code: Int32) -> Never {
        if usesMPI { _ = MPI_Abort(ct_mpi_comm_world(), code) }
        exit(code)
    }

    /// Ends MPI (after the last collective); nothing for one process.
    public func finish() {
        guard usesMPI else { return }
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { _ = MPI_Finalize() }
    }
}

/// Initialises MPI the first time it is asked for, and reads the world's rank and sizes.
private final class StartOnce: Sendable {
    let lock = NSLock()
    nonisolated(unsafe) var made: Communicator?

    var value: Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let made { return made }
        var provided: Int32 = 0
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 { _ = MPI_Init_thread(nil, nil, ct_mpi_thread_funneled(), &provided) }
        var rank: Int32 = 0, size: Int32 = 1, localSize: Int32 = 1
        MPI_Comm_rank(ct_mpi_comm_world(), &rank)
        MPI_Comm_size(ct_mpi_comm_world(), &size)
        var local: MPI_Comm? = ct_mpi_comm_null()
        if MPI_Comm_split_type(ct_mpi_comm_world(), ct_mpi_comm_type_shared(), rank, ct_mpi_info_null(), &local) == ct_mpi_success() {
            MPI_Comm_size(local, &localSize)
            MPI_Comm_free(&local)
        }
        let communicator = Communicator(rank: Int(rank), size: Int(size), localSize: Int(localSize), usesMPI: true)
        made = communicator
        return communicator
    }
}
