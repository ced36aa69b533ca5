/// What a unit should be doing, set by `fleetctl` (fleet's `target-state`, `DSTATE`).
public enum DesiredState: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// In the registry, not scheduled.
    case inactive
    /// Scheduled and its file loaded into systemd, not started.
    case loaded
    /// Loaded and started.
    case launched

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: DesiredState, b: DesiredState) -> Bool { a.rank < b.rank }
}
