import CSystemd

/// `[Install]` sections, enabled for this boot only: fleet enables a unit's `[Install]` section
/// when it loads the unit (fleet's sidekick pattern: `WantedBy=app.service` makes starting the
/// app start its sidekick through systemd), and disables it when it unloads the unit.
extension BusConnection {
    /// `Manager.EnableUnitFiles(names, runtime: true, force: true)`: symlinks under the runtime
    /// directory (`/run/systemd/...`), gone at reboot; `force` replaces a symlink already there.
    ///
    /// - Returns: how many symlinks systemd created or changed (a reload makes units already
    ///   loaded, such as the `WantedBy=` target, see them).
    func enableUnitFiles(_ names: [String]) throws(SystemdError) -> Int {
        let reply = try installCall("EnableUnitFiles", names, force: true)
        // (b carries_install_info, a(sss) changes)
        guard reply.skip("b"), let changes = reply.readInstallChanges() else {
            throw .invalidReply("EnableUnitFiles", unit: names.count == 1 ? names[0] : nil, result: 0)
        }
        return changes
    }

    /// `Manager.DisableUnitFiles(names, runtime: true)`: removes the symlinks
    /// ``enableUnitFiles(_:)`` made. A unit that was never enabled changes nothing.
    ///
    /// - Returns: how many symlinks systemd removed.
    func disableUnitFiles(_ names: [String]) throws(SystemdError) -> Int {
        let reply = try installCall("DisableUnitFiles", names, force: nil)
        guard let changes = reply.readInstallChanges() else {
            throw .invalidReply("DisableUnitFiles", unit: names.count == 1 ? names[0] : nil, result: 0)
        }
        return changes
    }

    /// A call with the arguments `(as files, b runtime = true[, b force])`.
    private func installCall(_ member: String, _ names: [String], force: Bool?) throws(SystemdError) -> BusMessage {
        let unit = names.count == 1 ? names[0] : nil
        let request = try methodCall(SystemdObjects.managerPath, SystemdObjects.managerInterface, member,
                                     unit: unit, label: member)
        var r = request.append(strings: names)
        if r >= 0 { r = request.append(bool: true) }
        if r >= 0, let force { r = request.append(bool: force) }
        guard r >= 0 else { throw .systemCall("sd_bus_message_append", unit: unit, result: r, message: member) }
        return try send(request, label: member, unit: unit)
    }
}

extension BusMessage {
    /// Appends one `b` argument; returns the sd-bus result.
    func append(bool: Bool) -> Int32 {
        var value: Int32 = bool ? 1 : 0  // D-Bus booleans are C ints to sd-bus
        return sd_bus_message_append_basic(pointer, BusType.boolean, &value)
    }

    /// Reads an install reply's `a(sss)` (change type, symlink, target) and counts the changes.
    func readInstallChanges() -> Int? {
        guard enter(BusType.array, "(sss)") else { return nil }
        var count = 0
        while enter(BusType.structure, "sss") {
            guard skip("sss"), exit() else { return nil }
            count += 1
        }
        guard exit() else { return nil }
        return count
    }
}
