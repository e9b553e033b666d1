// CityscapesClasses.swift — names of the 19 Cityscapes training classes
// (trainIds 0...18), the evaluation space of every dataset here. Metrics
// names its rows with them, the dataset label tables and the label writer
// index them by trainId.

public enum CityscapesClasses {
    /// Class names by trainId (cityscapesscripts `labels.py`).
    public static let names: [String] = [
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
        "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
        "motorcycle", "bicycle",
    ]

    /// The names for `count` classes: the Cityscapes names for 19, else "class N".
    public static func names(count: Int) -> [String] {
        count == names.count ? names : (0 ..< count).map { "class \($0)" }
    }
}
