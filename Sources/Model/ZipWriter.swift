// ZipWriter.swift — a zip archive of stored (uncompressed) entries, laid out as
// PyTorch's archive writer lays out a `torch.save` file.
//
// Every entry's data starts on a 64-byte boundary: the local header's extra
// field is PyTorch's padding record (id "FB", its length, then 'Z' bytes), so
// a reader can map a storage in place. Local headers carry the CRC-32 and the
// sizes (no data descriptor follows the data), names are UTF-8 (flag bit 11).
// Past 4 GiB (a whole vitg14 backbone) the central directory records offsets
// in zip64 extra fields and a zip64 end record follows it, as ZipArchive reads
// them. One entry must stay under 4 GiB (a single tensor never comes close).

public struct ZipWriter {
    /// The archive so far.
    public private(set) var bytes: [UInt8] = []
    private var directory: [(name: [UInt8], crc: UInt32, size: Int, offset: Int)] = []
    /// Data alignment (PyTorch's kFieldAlignment).
    public static let alignment = 64
    /// Offsets and counts from this value on are written as zip64 (0xFFFFFFFF; lowered by tests).
    let zip64Threshold: Int

    public init() { zip64Threshold = 0xFFFF_FFFF }

    init(zip64Threshold: Int) { self.zip64Threshold = zip64Threshold }

    /// Appends a stored entry `name` holding `data`; `path` names the archive in errors.
    public mutating func add(_ name: String, _ data: UnsafeRawBufferPointer, path: String) throws(WeightError) {
        try Self.check(name, count: data.count, path: path)
        append(Array(name.utf8), data)
    }

    /// Appends a stored entry holding `data`.
    public mutating func add(_ name: String, _ data: [UInt8], path: String) throws(WeightError) {
        try Self.check(name, count: data.count, path: path)
        data.withUnsafeBytes { append(Array(name.utf8), $0) }
    }

    static func check(_ name: String, count: Int, path: String) throws(WeightError) {
        guard count < 0xFFFF_FFFF else {
            throw WeightError(path: path, reason: "zip archive: entry '\(name)' has \(count) bytes; entries of 4 GiB or more are not written")
        }
        guard name.utf8.count <= 0xFFFF else { throw WeightError(path: path, reason: "zip archive: entry name of \(name.utf8.count) bytes") }
    }

    private mutating func append(_ nameBytes: [UInt8], _ data: UnsafeRawBufferPointer) {
        let offset = bytes.count
        let crc = ZipArchive.crc32Of(data)
        // Padding so that the data starts on the alignment: header, name, and the record's own 4 bytes first.
        let start = offset + 30 + nameBytes.count + 4
        let padding = (Self.alignment - start % Self.alignment) % Self.alignment
        bytes.reserveCapacity(start + padding + data.count)
        put32(0x0403_4B50)
        put16(20)                       // version needed: 2.0
        put16(0x0800)                   // UTF-8 names
        put16(0)                        // stored
        put16(0); put16(0x21)           // time 00:00, date 1980-01-01 (reproducible files)
        put32(crc)
        put32(UInt32(data.count)); put32(UInt32(data.count))
        put16(UInt16(nameBytes.count)); put16(UInt16(4 + padding))
        bytes += nameBytes
        bytes += [UInt8(ascii: "F"), UInt8(ascii: "B")]
        put16(UInt16(padding))
        bytes += [UInt8](repeating: UInt8(ascii: "Z"), count: padding)
        bytes += data
        directory.append((nameBytes, crc, data.count, offset))
    }

    /// The central directory and end records; the archive is complete afterwards.
    public mutating func finish() {
        let directoryOffset = bytes.count
        for entry in directory {
            let wide = entry.offset >= zip64Threshold
            put32(0x0201_4B50)
            put16(wide ? 45 : 20); put16(wide ? 45 : 20)    // made by, needed
            put16(0x0800); put16(0)
            put16(0); put16(0x21)
            put32(entry.crc)
            put32(UInt32(entry.size)); put32(UInt32(entry.size))
            put16(UInt16(entry.name.count)); put16(wide ? 12 : 0); put16(0)
            put16(0); put16(0); put32(0)                      // disk, internal and external attributes
            put32(wide ? 0xFFFF_FFFF : UInt32(entry.offset))
            bytes += entry.name
            if wide {
                put16(0x0001); put16(8)
                put64(UInt64(entry.offset))
            }
        }
        let directorySize = bytes.count - directoryOffset
        let count = directory.count
        if directoryOffset >= zip64Threshold || directorySize >= zip64Threshold || count >= 0xFFFF {
            let record = bytes.count
            put32(0x0606_4B50); put64(44)                     // zip64 end of central directory, its size after this field
            put16(45); put16(45); put32(0); put32(0)
            put64(UInt64(count)); put64(UInt64(count))
            put64(UInt64(directorySize)); put64(UInt64(directoryOffset))
            put32(0x0706_4B50); put32(0); put64(UInt64(record)); put32(1)   // locator
            put32(0x0605_4B50); put16(0); put16(0)
            put16(0xFFFF); put16(0xFFFF); put32(0xFFFF_FFFF); put32(0xFFFF_FFFF)
        } else {
            put32(0x0605_4B50); put16(0); put16(0)
            put16(UInt16(count)); put16(UInt16(count))
            put32(UInt32(directorySize)); put32(UInt32(directoryOffset))
        }
        put16(0)                        // comment length
    }

    private mutating func put16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    private mutating func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    private mutating func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
}
