// ImageNetStatistics.swift — the per-channel input statistics of the network
// (method.md §5): pixels on the 0...255 scale, RGB order, normalised as
// (v - mean) / std. Training augmentation, inference and feature export all
// read them from here.

public enum ImageNetStatistics {
    /// Channel means, RGB.
    public static let mean: [Float] = [123.675, 116.28, 103.53]
    /// Channel standard deviations, RGB.
    public static let std: [Float] = [58.395, 57.12, 57.375]
}
