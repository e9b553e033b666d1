// NonRegularFileTests.swift — FIFOs in a dataset: the header reader refuses one
// by name without blocking, and a listing reports one named like an image or a
// label as an unreadable file instead of pairing it.

import CTCore
import Foundation
import TestSupport
import Testing

@testable import Datasets

@Suite struct NonRegularFileTests {
    @Test func theHeaderReaderRefusesAFIFOPromptly() throws {
        let fifo = try FIFO(named: "frame.jpg")
        defer { fifo.remove() }
        let path = fifo.path
        let result = try #require(fifo.promptly { ImageHeader.size(path) }, "ImageHeader blocked on a FIFO")
        guard case .failure(let problem) = result else { Issue.record("a FIFO gave a size"); return }
        #expect(problem == DatasetProblem(file: path, kind: .unreadableFile, message: RegularFile.notRegularReason))
    }

    @Test func aListingNamesFIFOsAndPairsOnlyRegularFiles() throws {
        let folder = try TemporaryFolder("fifo-dataset")
        defer { folder.remove() }
        let images = folder.path + "/leftImg8bit/val/city", labels = folder.path + "/gtFine/val/city"
        // a: a regular pair; b: the image is a FIFO; c: the label is a FIFO.
        for path in [images + "/a_leftImg8bit.png", labels + "/a_gtFine_labelIds.png",
                     labels + "/b_gtFine_labelIds.png", images + "/c_leftImg8bit.png"] {
            try AtomicFile.write([], to: path)
        }
        let imageFIFO = try FIFO(named: "leftImg8bit/val/city/b_leftImg8bit.png", in: folder)
        let labelFIFO = try FIFO(named: "gtFine/val/city/c_gtFine_labelIds.png", in: folder)
        let listing = try CityscapesReader(root: folder.path, split: "val", layout: .raw).list()
        #expect(listing.samples.map(\.id) == ["city/a"])
        #expect(listing.problems == [
            DatasetProblem(file: imageFIFO.path, kind: .unreadableFile, message: RegularFile.notRegularReason),
            DatasetProblem(file: labelFIFO.path, kind: .unreadableFile, message: RegularFile.notRegularReason),
        ])
        #expect(FileTree.list(under: images) == FileTree.Listing(files: ["a_leftImg8bit.png", "c_leftImg8bit.png"],
                                                                 others: ["b_leftImg8bit.png"]))
        #expect(!FileTree.isFile(imageFIFO.path) && FileTree.kind(imageFIFO.path) == .other)
    }
}
