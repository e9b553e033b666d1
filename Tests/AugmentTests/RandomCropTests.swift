// RandomCropTests.swift — the candidate/retry rule of mmseg RandomCrop on a
// crafted label map with injected draws.

import Augment
import ImageIO
import TestSupport
import Testing

@Suite struct RandomCropTests {
    @Test func candidatesAndAcceptanceMatchMmseg() throws {
        let fx = try fixtures.augment()
        let label = try fixtures.raster("crop_label.npy")
        let image = Image8(width: label.width, height: label.height, channels: 3,
                           pixels: label.pixels.flatMap { [$0, $0 &+ 1, $0 &+ 2] })
        for c in fx.crop {
            let crop = RandomCrop(cropSize: ImageSize(width: c.cropWidth ?? 16, height: 16), catMaxRatio: 0.75)
            var random = ScriptedRandom(c.draws.map { .int($0) })
            let (croppedImage, croppedLabel, box) = try crop.apply(image: image, label: label, random: &random)
            #expect([box.y0, box.y1, box.x0, box.x1] == c.box, "\(c.name)")
            #expect(random.log == c.requests.map { "int \($0[0])..<\($0[1])" }, "\(c.name): draw order")
            #expect(random.queue.isEmpty, "\(c.name): every draw consumed")
            #expect(croppedLabel.width == box.width && croppedLabel.height == box.height)
            for y in 0 ..< box.height {
                for x in 0 ..< box.width {
                    let v = label[box.x0 + x, box.y0 + y, 0]
                    #expect(croppedLabel[x, y, 0] == v)
                    #expect(croppedImage[x, y, 2] == v &+ 2)
                }
            }
        }
    }

    @Test func ratioOfOneTakesFirstCandidate() throws {
        let label = try fixtures.raster("crop_label.npy")
        let crop = RandomCrop(cropSize: ImageSize(width: 16, height: 16), catMaxRatio: 1)
        var random = ScriptedRandom([.int(2), .int(3)])
        let box = crop.chooseBox(label: label, &random)
        #expect(box == CropBox(y0: 2, y1: 18, x0: 3, x1: 19))
        #expect(random.queue.isEmpty)
    }

    @Test func acceptanceNeedsTwoClassesBelowRatio() {
        // 4x1 strip: three of class 1, one of class 2 -> 0.75, not < 0.75.
        let label = LabelMap(width: 4, height: 1, channels: 1, pixels: [1, 1, 1, 2])
        let crop = RandomCrop(cropSize: ImageSize(width: 4, height: 1))
        #expect(!crop.accepts(CropBox(y0: 0, y1: 1, x0: 0, x1: 4), label: label))
        let mixed = LabelMap(width: 4, height: 1, channels: 1, pixels: [1, 1, 2, 255])
        #expect(crop.accepts(CropBox(y0: 0, y1: 1, x0: 0, x1: 4), label: mixed))   // 2/3 < 0.75
        let ignoreOnly = LabelMap(width: 4, height: 1, channels: 1, pixels: [255, 255, 255, 3])
        #expect(!crop.accepts(CropBox(y0: 0, y1: 1, x0: 0, x1: 4), label: ignoreOnly))
    }
}
