// AugmentSettings.swift — what a manifest chooses about the training pipeline
// (`training.augment`, docs/training.md), as one value: decoded once with the
// manifest, turned into the TrainPipeline the training data runs
// (`TrainPipeline(cropSize:settings:)`), and recorded with each training state
// so that a run resumes only with the pipeline it was trained with.
//
// Every default is the configs' pipeline (datasets.md section 7), so the
// default settings make exactly `TrainPipeline(cropSize:)`.

/// The choices of `training.augment`. A nil field takes the configs' value for the crop size.
public struct AugmentSettings: Sendable, Hashable {
    /// The short edges RandomChoiceResize draws from; nil: the configs'
    /// `[int(crop*x*0.1) for x in 5...20]`; empty: no resize.
    public var shortEdges: [Int]?
    /// The resize's long-edge cap (ResizeShortestEdge `max_size`); nil: 4 x crop.
    public var maxSize: Int?
    /// RandomCrop's category ratio rule (>= 1: the first candidate is taken).
    public var catMaxRatio: Double
    /// RandomFlip's probability of a horizontal flip.
    public var flipProbability: Double
    /// Whether PhotoMetricDistortion (mmseg defaults) runs.
    public var photometric: Bool

    public init(shortEdges: [Int]? = nil, maxSize: Int? = nil, catMaxRatio: Double = 0.75, flipProbability: Double = 0.5,
                photometric: Bool = true) {
        self.shortEdges = shortEdges
        self.maxSize = maxSize
        self.catMaxRatio = catMaxRatio
        self.flipProbability = flipProbability
        self.photometric = photometric
    }

    /// The short edges for a `cropSize` crop (empty: no resize).
    public func shortEdges(cropSize: Int) -> [Int] { shortEdges ?? RandomChoiceResize.scales(base: cropSize) }

    /// The long-edge cap for a `cropSize` crop.
    public func maxSize(cropSize: Int) -> Int { maxSize ?? 4 * cropSize }

    /// The pipeline these settings make for a `cropSize` crop, every default filled in, as
    /// canonical JSON (sorted keys, no spaces; the resize's `max_size` is left out when there is
    /// no resize): what a training state records, and compares on resume.
    ///
    ///     {"cat_max_ratio":0.75,"crop_size":512,"flip_probability":0.5,"max_size":2048,
    ///      "photometric":true,"short_edges":[256,307,...,1024]}
    public func record(cropSize: Int) -> String {
        let edges = shortEdges(cropSize: cropSize)
        var fields = ["\"cat_max_ratio\":\(catMaxRatio)", "\"crop_size\":\(cropSize)", "\"flip_probability\":\(flipProbability)"]
        if !edges.isEmpty { fields.append("\"max_size\":\(maxSize(cropSize: cropSize))") }
        fields.append("\"photometric\":\(photometric)")
        fields.append("\"short_edges\":[\(edges.map(String.init).joined(separator: ","))]")
        return "{" + fields.joined(separator: ",") + "}"
    }
}
