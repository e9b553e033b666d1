// Zip64Tests.swift — the zip64 records (checkpoints over 4 GiB, e.g. vitg14 in
// float32): the fixture .pth re-packed with every size and offset moved into
// zip64 extra fields must load to the same tensors.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct Zip64Tests {
    /// A stored zip of `entries` with all sizes and offsets in zip64 fields (and each entry's CRC-32).
    /// `crcs` replaces the recorded CRC-32 of the entries it names (a damaged archive).
    static func zip64(_ entries: [(name: String, data: [UInt8])], crcs: [String: Int] = [:]) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: Int) { for i in 0 ..< 4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        func u64(_ v: Int) { for i in 0 ..< 8 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        var offsets: [Int] = []
        for (name, data) in entries {
            offsets.append(out.count)
            u32(0x0403_4B50); u16(45); u16(0); u16(0); u16(0); u16(0); u32(0)
            u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(name.utf8.count); u16(20)
            out += Array(name.utf8)
            u16(1); u16(16); u64(data.count); u64(data.count)
            out += data
        }
        let directory = out.count
        for ((name, data), offset) in zip(entries, offsets) {
            let crc = crcs[name] ?? data.withUnsafeBytes { Int(ZipArchive.crc32Of($0)) }
            u32(0x0201_4B50); u16(45); u16(45); u16(0); u16(0); u16(0); u16(0); u32(crc)
            u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(name.utf8.count); u16(28); u16(0); u16(0); u16(0); u32(0)
            u32(0xFFFF_FFFF)
            out += Array(name.utf8)
            u16(1); u16(24); u64(data.count); u64(data.count); u64(offset)
        }
        let directorySize = out.count - directory
        let record = out.count
        u32(0x0606_4B50); u64(44); u16(45); u16(45); u32(0); u32(0)
        u64(entries.count); u64(entries.count); u64(directorySize); u64(directory)
        u32(0x0706_4B50); u32(0); u64(record); u32(1)
        u32(0x0605_4B50); u16(0); u16(0); u16(0xFFFF); u16(0xFFFF); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(0)
        return out
    }

    @Test func zip64ArchiveLoads() throws {
        let path = fixtures.path("backbone/small_official.pth")
        let original = try FileBytes.read(path)
        let entries = try original.withUnsafeBytes { raw in
            try ZipArchive(raw, path: path).entries.values.sorted { $0.offset < $1.offset }
                .map { ($0.name, Array(raw[$0.offset ..< $0.offset + $0.size])) }
        }
        let repacked = Self.zip64(entries)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-zip64-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("zip64.pth").path
        try AtomicFile.write(repacked, to: out)
        let a = try DINOv2Weights.load(path, options: WeightLoadOptions(heads: 2))
        let b = try DINOv2Weights.load(out, options: WeightLoadOptions(heads: 2))
        #expect(b.kind == .officialPth)
        let sa = DINOv2Weights.officialStateDict(a.model), sb = DINOv2Weights.officialStateDict(b.model)
        #expect(sa.keys.sorted() == sb.keys.sorted())
        for (name, t) in sa { #expect(sb[name] == t, "\(name)") }
    }
}
