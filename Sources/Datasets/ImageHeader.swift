// ImageHeader.swift — image dimensions from the first bytes of a PNG or JPEG
// file, without decoding pixels (listing and scanning thousands of files).

import CTCore
import Foundation
import ImageIO

enum ImageHeader {
    /// Width and height of a PNG or JPEG file, or a description of why not.
    static func size(_ path: String) -> Result<ImageSize, DatasetProblem> {
        func fail(_ why: String) -> Result<ImageSize, DatasetProblem> {
            .failure(DatasetProblem(file: path, kind: .unreadableFile, message: why))
        }
        let file: RegularFile
        do { file = try RegularFile(path: path) } catch { return fail(error.reason) }
        var position = 0
        func read(_ count: Int) -> [UInt8] {
            let bytes = (try? file.read(count, at: position)) ?? []
            position += bytes.count
            return bytes
        }
        let head = read(26)
        if head.isEmpty { return fail("file is empty") }
        if head.count >= 8, head[0 ..< 8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            guard head.count >= 24, head[12 ..< 16].elementsEqual(Array("IHDR".utf8)) else {
                return fail("PNG header truncated or IHDR missing")
            }
            let w = head[16 ..< 20].reduce(0) { $0 << 8 | Int($1) }
            let h = head[20 ..< 24].reduce(0) { $0 << 8 | Int($1) }
            guard w > 0, h > 0 else { return fail("PNG header declares an empty \(w)x\(h) image") }
            return .success(ImageSize(width: w, height: h))
        }
        guard head.count >= 3, head[0] == 0xFF, head[1] == 0xD8 else {
            return fail("not a PNG or JPEG file (unrecognised signature)")
        }
        // JPEG: walk the marker segments up to the first SOFn.
        var offset = 2
        for _ in 0 ..< 4096 {
            position = offset
            var marker = read(2)
            guard marker.count == 2, marker[0] == 0xFF else { break }
            // Fill bytes (0xFF 0xFF ...) before a marker are allowed.
            while marker[1] == 0xFF {
                let next = read(1)
                guard next.count == 1 else { return fail("JPEG header truncated") }
                marker[1] = next[0]
                offset += 1
            }
            let code = marker[1]
            if code == 0xD8 || (0xD0 ... 0xD7).contains(code) || code == 0x01 { offset += 2; continue }
            let lengthBytes = read(2)
            guard lengthBytes.count == 2 else { break }
            let length = Int(lengthBytes[0]) << 8 | Int(lengthBytes[1])
            guard length >= 2 else { break }
            let isSOF = (0xC0 ... 0xCF).contains(code) && code != 0xC4 && code != 0xC8 && code != 0xCC
            if isSOF {
                let body = read(5)
                guard body.count == 5 else { break }
                let h = Int(body[1]) << 8 | Int(body[2]), w = Int(body[3]) << 8 | Int(body[4])
                guard w > 0, h > 0 else { return fail("JPEG frame header declares an empty \(w)x\(h) image") }
                return .success(ImageSize(width: w, height: h))
            }
            if code == 0xD9 || code == 0xDA { break }
            offset += 2 + length
        }
        return fail("JPEG header truncated or without a frame header (SOF)")
    }
}
