extension UnitName {
    /// Why fleet must never run a unit of this name, or nil when it may.
    ///
    /// These names belong to the machine, not to the cluster: fleet's own daemon (destroying a
    /// unit called `fleetd.service` would stop the fleetd that runs it), systemd's special units
    /// (`-.mount` cannot be stopped at all, `default.target` or `dbus.socket` hold up the whole
    /// machine) and systemd's own services. The agent also refuses, at load time, any other name
    /// the host already has a unit of outside fleet's directory (`ssh.service`); this list only
    /// stops the names that are dangerous on every machine before they reach the store.
    public var reservedReason: String? {
        if Self.fleetOwnPrefixes.contains(prefix) {
            return "unit name \"\(rawValue)\" is reserved for fleet itself"
        }
        if Self.systemdSpecialUnits.contains(rawValue) || Self.systemdPrefixes.contains(where: { stem.hasPrefix($0) })
            || ["scope", "slice", "swap", "device", "snapshot"].contains(suffix)
        {
            return "unit name \"\(rawValue)\" belongs to the machine's own systemd; fleet does not run it"
        }
        return nil
    }

    static let fleetOwnPrefixes: Set<String> = ["fleet", "fleetd", "fleet-fence"]

    /// Prefixes of systemd's own units (`systemd-journald.service`, `user@0.service`).
    static let systemdPrefixes = ["systemd-", "user@", "user-runtime-dir@", "dbus-", "getty@", "serial-getty@",
                                  "autovt@", "container-getty@"]

    /// systemd.special(7): units with a fixed meaning on every machine.
    static let systemdSpecialUnits: Set<String> = [
        "-.mount", "-.slice", "init.scope", "dbus.service", "dbus.socket", "basic.target", "bluetooth.target", "cryptsetup.target",
        "ctrl-alt-del.target", "default.target", "emergency.target", "emergency.service", "exit.target",
        "final.target", "getty.target", "getty-pre.target", "graphical.target", "halt.target",
        "hibernate.target", "hybrid-sleep.target", "initrd.target", "initrd-fs.target", "initrd-root-fs.target",
        "kexec.target", "local-fs.target", "local-fs-pre.target", "multi-user.target", "network.target",
        "network-online.target", "network-pre.target", "nss-lookup.target", "nss-user-lookup.target",
        "paths.target", "poweroff.target", "reboot.target", "remote-fs.target", "remote-fs-pre.target",
        "rescue.target", "rescue.service", "rpcbind.target", "shutdown.target", "sigpwr.target",
        "sleep.target", "slices.target", "sockets.target", "suspend.target", "swap.target", "sysinit.target",
        "syslog.socket", "time-sync.target", "time-set.target", "timers.target", "umount.target",
        "usb-gadget.target", "system.slice", "user.slice", "machine.slice", "machines.target",
        "printer.target", "smartcard.target", "sound.target", "first-boot-complete.target",
        "factory-reset.target", "soft-reboot.target", "system-update.target", "sysinit-reactivation.target",
    ]
}
