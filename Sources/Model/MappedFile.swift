// MappedFile.swift — a whole file mapped read-only into memory.
//
// Weight files reach gigabytes (vitg14: 4.5 GB); mapping them lets the readers
// parse headers and copy tensors out without first holding a second copy. The
// pages a reader has copied out are released as it goes (`release`), so the
// mapped file does not stay resident next to the float32 copies: loading
// peaks at about one copy of the weights, not two.

import CTCore
import Foundation

/// The bytes of a file, mapped read-only. Immutable, so safe to share.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    private let base: UnsafeMutableRawPointer?
    public let count: Int

    /// Maps `path`. Errors name the file (missing, a folder, not a regular file — a
    /// FIFO, socket or device is refused without blocking (`RegularFile`) —, unreadable).
    public init(path: String) throws(WeightError) {
        self.path = path
        let file: RegularFile
        do { file = try RegularFile(path: path) } catch { throw WeightError(path: path, reason: error.reason) }
        let size = file.size
        count = size
        if size == 0 {
            base = nil
            return
        }
        let (mapped, code) = withExtendedLifetime(file) { (mmap(nil, size, PROT_READ, MAP_PRIVATE, file.descriptor, 0), errno) }
        guard let mapped, mapped != MAP_FAILED else {
            throw WeightError(path: path, reason: "cannot map: \(String(cString: strerror(code)))")
        }
        base = mapped
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// Drops the pages lying wholly inside `range` (a part of `bytes` already
    /// copied out) from this process's resident set. They stay in the page
    /// cache and read back from the file if touched again, so `bytes` keeps
    /// its contents. Ranges outside the mapping are ignored.
    public func release(_ range: UnsafeRawBufferPointer) {
        guard let base, let start = range.baseAddress, range.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lower = Int(bitPattern: start), upper = lower + range.count
        let mapLower = Int(bitPattern: base), mapUpper = mapLower + count
        guard page > 0, lower >= mapLower, upper <= mapUpper else { return }
        let first = (lower + page - 1) / page * page, last = upper / page * page
        if last > first { madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, Int32(MADV_DONTNEED)) }
    }

    /// The file's bytes (valid while this object lives).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
