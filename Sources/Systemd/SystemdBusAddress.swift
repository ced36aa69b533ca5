import Glibc

/// Which D-Bus connection a ``SystemdUnitManager`` uses to reach systemd.
public enum SystemdBusAddress: Sendable, Hashable {
    /// The system instance of systemd (production fleetd): its own socket
    /// `/run/systemd/private` when running as root, as `systemctl` does, else the system bus.
    case system
    /// A `systemd --user` instance (as on the test rig): its own socket
    /// `$XDG_RUNTIME_DIR/systemd/private`, else the user's session bus
    /// (`$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`).
    case user
    /// An explicit D-Bus address such as `unix:path=/run/user/0/bus`, connected to as a bus client.
    case address(String)
}

extension SystemdBusAddress {
    /// The runtime unit directory that belongs to this bus's manager, if it can be known.
    ///
    /// `/run/systemd/system` for ``system``; `$XDG_RUNTIME_DIR/systemd/user` for ``user``
    /// (nil when `XDG_RUNTIME_DIR` is unset); nil for an explicit ``address(_:)``.
    public var runtimeUnitDirectory: String? {
        switch self {
        case .system:
            return "/run/systemd/system"
        case .user:
            guard let runtime = getenv("XDG_RUNTIME_DIR"), runtime.pointee != 0 else { return nil }
            return String(cString: runtime) + "/systemd/user"
        case .address:
            return nil
        }
    }
}
