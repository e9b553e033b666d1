// PickleArchive.swift — a well-formed `torch.save` zip around any pickle, so the
// fuzzer's mutations of `data.pkl` are not all stopped by the zip layer's CRC-32
// check and reach the unpickler and the tensor rebuilding behind it.
//
// The archive holds `archive/data.pkl` (the input), `archive/byteorder`
// ("little"), `archive/version` and one storage `archive/data/<key>` of the
// right size for each float storage the pickle names (as far as the pickle can
// be read; up to `maximumStorageBytes` in all), stored (method 0) with correct
// CRC-32s and sizes, as torch.save writes them.

import CZlib
import Model

enum PickleArchive {
    /// Storage bytes made for one input at most (beyond it, storages are left out and the reader says so).
    static let maximumStorageBytes = 4 << 20

    /// Storage contents: deterministic small values (bytes 0x00 ... 0x3C never form NaN or infinity in any float type).
    static let storagePattern: [UInt8] = (0 ..< maximumStorageBytes).map { UInt8($0 % 61) }

    /// The zip bytes with `pickle` as data.pkl.
    static func wrap(_ pickle: [UInt8]) -> [UInt8] {
        var entries: [(String, [UInt8])] = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)),
                                            ("archive/version", Array("3\n".utf8))]
        let sizes = (try? pickle.withUnsafeBytes { raw throws(WeightError) in
            try TorchCheckpoint.floatStorageBytes(ofPickle: raw, path: "data.pkl")
        }) ?? [:]
        var total = 0
        for (key, size) in sizes.sorted(by: { $0.key < $1.key }) where size <= maximumStorageBytes - total {
            total += size
            entries.append(("archive/data/" + key, Array(storagePattern[0 ..< size])))
        }
        return storedZip(entries)
    }

    /// `data.pkl` of a `.pth` file, or nil when it is not a readable archive.
    static func pickle(ofArchive bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { raw -> [UInt8]? in
            guard let archive = try? ZipArchive(raw, path: "fixture"),
                  let entry = archive.entries.values.filter({ $0.name.hasSuffix("data.pkl") }).min(by: { $0.name.count < $1.name.count }),
                  let data = try? ZipArchive.data(of: entry, in: raw, path: "fixture") else { return nil }
            return Array(data)
        }
    }

    /// A zip archive of stored entries (no compression, no data descriptors, no zip64).
    static func storedZip(_ entries: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ to: inout [UInt8]) { to += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: UInt32, _ to: inout [UInt8]) { for s in stride(from: 0, to: 32, by: 8) { to.append(UInt8(v >> UInt32(s) & 0xFF)) } }
        for (name, bytes) in entries {
            let nameBytes = Array(name.utf8)
            let crc = bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            let offset = UInt32(out.count)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out)
            u32(crc, &out); u32(UInt32(bytes.count), &out); u32(UInt32(bytes.count), &out)
            u16(nameBytes.count, &out); u16(0, &out); out += nameBytes; out += bytes
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(crc, &central); u32(UInt32(bytes.count), &central)
            u32(UInt32(bytes.count), &central); u16(nameBytes.count, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central); central += nameBytes
        }
        let centralOffset = UInt32(out.count)
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(entries.count, &out); u16(entries.count, &out)
        u32(UInt32(central.count), &out); u32(centralOffset, &out); u16(0, &out)
        return out
    }
}
