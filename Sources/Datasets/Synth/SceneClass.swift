// SceneClass.swift — the generator's fine classes. Finer than the 19 trainIds
// so each dataset's own encoding can be written faithfully: a lane marking is
// `road` for Cityscapes but `Lane Marking - General` for Mapillary, a manhole is
// road for Cityscapes but ignored (Manhole) for Mapillary, the ego hood is
// `ego vehicle` (ignored) everywhere.

/// A fine class of the synthetic scenes.
public enum SceneClass: UInt8, Sendable, CaseIterable {
    case unlabeled, egoVehicle, road, laneMarking, crosswalk, manhole, sidewalk, curb
    case building, wall, fence, pole, streetLight, trafficLight, trafficSign, vegetation, terrain, sky
    case person, bicyclist, motorcyclist, car, truck, bus, train, motorcycle, bicycle, trashCan, railTrack

    /// Cityscapes labelId (labels.py `id`).
    public var cityscapesId: UInt8 {
        switch self {
        case .unlabeled: 0
        case .egoVehicle: 1
        case .road, .laneMarking, .crosswalk, .manhole: 7
        case .sidewalk, .curb: 8
        case .building: 11
        case .wall: 12
        case .fence: 13
        case .pole, .streetLight: 17
        case .trafficLight: 19
        case .trafficSign: 20
        case .vegetation: 21
        case .terrain: 22
        case .sky: 23
        case .person: 24
        case .bicyclist, .motorcyclist: 25
        case .car: 26
        case .truck: 27
        case .bus: 28
        case .train: 31
        case .motorcycle: 32
        case .bicycle: 33
        case .trashCan: 4  // static
        case .railTrack: 10
        }
    }

    /// Mapillary Vistas v1.2 class index (position in `config_v1.2.json`).
    public var mapillaryIndex: UInt8 {
        switch self {
        case .unlabeled: 65
        case .egoVehicle: 64
        case .road: 13
        case .laneMarking: 24
        case .crosswalk: 23
        case .manhole: 41
        case .sidewalk: 15
        case .curb: 2
        case .building: 17
        case .wall: 6
        case .fence: 3
        case .pole: 45
        case .streetLight: 44
        case .trafficLight: 48
        case .trafficSign: 50
        case .vegetation: 30
        case .terrain: 29
        case .sky: 27
        case .person: 19
        case .bicyclist: 20
        case .motorcyclist: 21
        case .car: 55
        case .truck: 61
        case .bus: 54
        case .train: 58
        case .motorcycle: 57
        case .bicycle: 52
        case .trashCan: 51
        case .railTrack: 12
        }
    }

    /// trainId (0...18, 255) via the Cityscapes table.
    public var trainId: UInt8 { LabelTables.cityscapesIdToTrainId[Int(cityscapesId)] }
}
