import FleetUnit

/// The three state properties of a systemd unit, as systemd reports them.
///
/// Values are systemd's own strings: `loadState` is e.g. `loaded` or `not-found`,
/// `activeState` is typed (``ActiveState``: `active`, `inactive`, `failed`, ...),
/// and `subState` is type-specific (`running`, `dead`, `start-pre`, ...).
public struct SystemdUnitState: Hashable, Sendable, Codable, CustomStringConvertible {
    public var loadState: String
    public var activeState: ActiveState
    public var subState: String

    public init(loadState: String, activeState: ActiveState, subState: String) {
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
    }

    /// `loaded/active/running`, the shape `systemctl list-units` prints.
    public var description: String { "\(loadState)/\(activeState)/\(subState)" }
}
