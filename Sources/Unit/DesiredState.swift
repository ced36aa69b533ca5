/// What a unit should be doing, set by `fleetctl` (fleet's `target-state`, `DSTATE`).
///
/// In FleetUnit rather than the registry because both sides speak it: the API and the engine
/// store it, fleetctl asks for it (the wire carries its raw value).
public enum DesiredState: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// In the registry, not scheduled.
    case inactive
    /// Scheduled and its file loaded into systemd, not started.
    case loaded
    /// Loaded and started.
    case launched

    private var rank: Int {
        switch self {
        case .inactive: 0
        case .loaded: 1
        case .launched: 2
        }
    }

    public static func < (a: DesiredState, b: DesiredState) -> Bool { a.rank < b.rank }
}
