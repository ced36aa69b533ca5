/// systemd's `ActiveState` of a unit, as its manager reports it.
///
/// A struct rather than an enum: a newer systemd may report a state not named here (systemd
/// 252 added `maintenance`, later ones `refreshing`), and that must pass through unchanged, not
/// fail to decode. The wire and the store carry the raw string.
public struct ActiveState: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let active = ActiveState(rawValue: "active")
    public static let reloading = ActiveState(rawValue: "reloading")
    public static let inactive = ActiveState(rawValue: "inactive")
    public static let failed = ActiveState(rawValue: "failed")
    public static let activating = ActiveState(rawValue: "activating")
    public static let deactivating = ActiveState(rawValue: "deactivating")
    public static let maintenance = ActiveState(rawValue: "maintenance")

    /// Up, or on its way up: what fleet counts as a running copy of a unit.
    public var isRunning: Bool { self == .active || self == .activating || self == .reloading }

    /// Up and serving: what `systemctl is-active` answers 0 for.
    public var isUp: Bool { self == .active || self == .reloading }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
