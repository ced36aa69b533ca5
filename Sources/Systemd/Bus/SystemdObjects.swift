import CSystemd
import Glibc

/// systemd's D-Bus names (see org.freedesktop.systemd1(5)).
enum SystemdObjects {
    static let destination = "org.freedesktop.systemd1"
    static let managerPath = "/org/freedesktop/systemd1"
    static let managerInterface = "org.freedesktop.systemd1.Manager"
    static let unitInterface = "org.freedesktop.systemd1.Unit"
    static let unitPathPrefix = "/org/freedesktop/systemd1/unit"
    static let propertiesInterface = "org.freedesktop.DBus.Properties"

    /// The interface of a unit's type (`org.freedesktop.systemd1.Service` for `web.service`).
    static func typeInterface(of name: String) -> String? {
        guard let dot = name.lastIndex(of: "."), let first = name[name.index(after: dot)...].first else { return nil }
        let type = name[name.index(after: dot)...]
        guard ["service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope"]
            .contains(type)
        else { return nil }
        return "org.freedesktop.systemd1." + first.uppercased() + type.dropFirst()
    }

    /// `web@1.service` -> `/org/freedesktop/systemd1/unit/web_401_2eservice`.
    ///
    /// systemd loads a unit on demand when one of its properties is read through this path,
    /// so it works for units that are not loaded (they report `LoadState` `not-found`).
    static func unitPath(_ name: String) -> String? {
        var encoded: UnsafeMutablePointer<CChar>?
        guard sd_bus_path_encode(unitPathPrefix, name, &encoded) >= 0, let encoded else { return nil }
        defer { free(encoded) }
        return String(cString: encoded)
    }

    /// The inverse of ``unitPath(_:)``; nil for paths outside the unit prefix.
    static func unitName(fromPath path: UnsafePointer<CChar>) -> String? {
        var decoded: UnsafeMutablePointer<CChar>?
        guard sd_bus_path_decode(path, unitPathPrefix, &decoded) > 0, let decoded else { return nil }
        defer { free(decoded) }
        return String(cString: decoded)
    }
}
