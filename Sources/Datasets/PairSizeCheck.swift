// PairSizeCheck.swift — a listing's image/label pairs whose sizes differ (GTA5
// has such pairs, datasets.md section 2), decided at listing time from the
// two file headers (no pixel is decoded), so the sample list — and with it the
// training order and the shards — is fixed before any sample is loaded.

import ImageIO

/// What a listing does with a pair whose image and label headers declare different sizes
/// (a manifest's `datasets[i].size_mismatch`).
public enum SizeMismatchRule: String, Sendable, Codable, CaseIterable {
    /// Leave the pair out of the samples; it is listed among the problems.
    case skip
    /// Leave the pair out and list it among the problems; the caller stops (the runner fails naming it).
    case fail
    /// Keep the pair; its label is loaded resized to the image's size (nearest neighbour).
    case resizeLabel = "resize-label"
}

extension DatasetListing {
    /// Reads the image and label header of every sample (in parallel; the result is in sample
    /// order) and applies `rule` to the pairs whose sizes differ: `skip` and `fail` move each from
    /// the samples to the problems (a `size_mismatch` on the label naming both files and both
    /// sizes, appended after the listing's own problems in sample order); `resizeLabel` keeps it
    /// with `resizedLabelSize` set to the image's size. A sample whose header cannot be read stays
    /// as it is: loading it reports the file.
    public func checkingPairSizes(_ rule: SizeMismatchRule) -> DatasetListing {
        let listed = samples
        let sizes = Parallel.map(listed.count) { i -> (image: ImageSize, label: ImageSize)? in
            guard case .success(let image) = ImageHeader.size(listed[i].imagePath),
                  case .success(let label) = ImageHeader.size(listed[i].labelPath) else { return nil }
            return (image, label)
        }
        var checked = self
        checked.samples = []
        checked.samples.reserveCapacity(listed.count)
        for (sample, size) in zip(listed, sizes) {
            guard let size, size.image != size.label else {
                checked.samples.append(sample)
                continue
            }
            switch rule {
            case .resizeLabel:
                checked.samples.append(sample.withLabel(resizedTo: size.image))
            case .skip, .fail:
                checked.problems.append(.sizeMismatch(label: sample.labelPath, labelSize: size.label,
                                                      image: sample.imagePath, imageSize: size.image))
            }
        }
        return checked
    }
}
