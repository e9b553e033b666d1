// ZipArchive.swift — the central directory of a zip file, for PyTorch archives.
//
// `torch.save` writes an uncompressed ("stored") zip: data.pkl, one entry per
// storage under data/, version files. Local headers there carry no sizes (a
// data descriptor follows the data), so sizes and offsets come from the
// central directory; files over 4 GiB (vitg14) use the zip64 records, which
// are handled. Compressed entries are rejected with the entry's name.
//
// Every count, size and offset is checked against the file's length before use
// (no arithmetic on them can overflow), and an entry's bytes are handed out only
// through `data(of:in:path:)`, which checks the CRC-32 the central directory records.

import CZlib

/// One stored entry: where its bytes are inside the archive.
public struct ZipEntry: Sendable, Equatable {
    public let name: String
    public let offset: Int
    public let size: Int
    /// The CRC-32 of the entry's bytes, as the central directory records it.
    public let crc32: UInt32

    public init(name: String, offset: Int, size: Int, crc32: UInt32) {
        self.name = name
        self.offset = offset
        self.size = size
        self.crc32 = crc32
    }
}

public struct ZipArchive: Sendable {
    /// Entries by name.
    public let entries: [String: ZipEntry]

    /// True when the bytes start with a zip local-file header.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self) == UInt32(0x0403_4B50).littleEndian
    }

    /// Reads the central directory of `bytes` (a whole zip file named `path` in errors).
    public init(_ bytes: UnsafeRawBufferPointer, path: String) throws(WeightError) {
        func fail(_ reason: String) -> WeightError { WeightError(path: path, reason: "zip archive: \(reason)") }
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        // A zip64 field; values beyond Int.max are returned as -1, which every check below refuses.
        func u64(_ at: Int) -> Int {
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            return v <= UInt64(Int.max) ? Int(v) : -1
        }
        /// True when `count` bytes from `start` lie inside the file (no overflow possible).
        func inside(_ start: Int, _ count: Int) -> Bool { start >= 0 && count >= 0 && start <= n && count <= n - start }
        let n = bytes.count
        guard n >= 22 else { throw fail("too short (\(n) bytes)") }
        // End of central directory: the last signature within 22 + 65535 bytes of the end.
        var eocd = -1
        var at = n - 22
        while at >= max(0, n - 22 - 65_535) {
            if u32(at) == 0x0605_4B50 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (truncated file?)") }
        var entryCount = u16(eocd + 10)
        var directorySize = u32(eocd + 12)
        var directoryOffset = u32(eocd + 16)
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4B50 else { throw fail("zip64 locator missing") }
            let record = u64(locator + 8)
            guard inside(record, 56), u32(record) == 0x0606_4B50 else { throw fail("zip64 end record missing") }
            entryCount = u64(record + 32)
            directorySize = u64(record + 40)
            directoryOffset = u64(record + 48)
        }
        guard inside(directoryOffset, directorySize) else {
            throw fail("central directory (\(directorySize) bytes at \(directoryOffset)) outside the file of \(n) bytes")
        }
        // Each directory record takes at least 46 bytes.
        guard entryCount >= 0, entryCount <= directorySize / 46 else {
            throw fail("\(entryCount) entries cannot fit in a central directory of \(directorySize) bytes")
        }
        var entries: [String: ZipEntry] = [:]
        var p = directoryOffset
        for _ in 0 ..< entryCount {
            guard inside(p, 46), u32(p) == 0x0201_4B50 else { throw fail("corrupt central directory at byte \(p)") }
            let method = u16(p + 10)
            var compressedSize = u32(p + 20)
            let crc = UInt32(u32(p + 16))
            var size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var localOffset = u32(p + 42)
            guard inside(p, 46 + nameLength + extraLength + commentLength) else { throw fail("corrupt central directory at byte \(p)") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(p + 46) ..< (p + 46 + nameLength)]), as: UTF8.self)
            // Zip64 extended information: only the fields saturated above are present, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                if id == 0x0001 {
                    var q = e + 4
                    let fieldEnd = min(e + 4 + length, extraEnd)
                    if size == 0xFFFF_FFFF, q + 8 <= fieldEnd { size = u64(q); q += 8 }
                    if compressedSize == 0xFFFF_FFFF, q + 8 <= fieldEnd { compressedSize = u64(q); q += 8 }
                    if localOffset == 0xFFFF_FFFF, q + 8 <= fieldEnd { localOffset = u64(q); q += 8 }
                }
                e += 4 + length
            }
            guard method == 0 else {
                throw fail("entry '\(name)' is compressed (method \(method)); torch.save writes stored entries only")
            }
            guard inside(localOffset, 30), u32(localOffset) == 0x0403_4B50 else {
                throw fail("entry '\(name)': bad local header offset \(localOffset)")
            }
            let dataOffset = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28)
            guard size >= 0, size == compressedSize, inside(dataOffset, size) else {
                throw fail("entry '\(name)': \(size) bytes at \(dataOffset) run past the end of the file")
            }
            entries[name] = ZipEntry(name: name, offset: dataOffset, size: size, crc32: crc)
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
    /// The bytes of `entry` inside `bytes` (the whole archive), after checking their CRC-32
    /// against the one the central directory records; `path` names the file in errors.
    public static func data(of entry: ZipEntry, in bytes: UnsafeRawBufferPointer,
                            path: String) throws(WeightError) -> UnsafeRawBufferPointer {
        guard entry.offset >= 0, entry.size >= 0, entry.offset <= bytes.count, entry.size <= bytes.count - entry.offset else {
            throw WeightError(path: path, reason: "zip archive: entry '\(entry.name)' outside the file")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[entry.offset ..< entry.offset + entry.size])
        let actual = crc32Of(data)
        guard actual == entry.crc32 else {
            throw WeightError(path: path, reason: "zip archive: entry '\(entry.name)' is damaged (CRC-32 \(hex(actual)), the directory records \(hex(entry.crc32)))")
        }
        return data
    }

    /// zlib's CRC-32 of `data`, in pieces that fit its 32-bit length.
    static func crc32Of(_ data: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        var start = 0
        while start < data.count {
            let length = min(data.count - start, 1 << 30)
            crc = CZlib.crc32(crc, data.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, uInt(length))
            start += length
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}
