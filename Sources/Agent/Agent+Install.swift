import FleetSystemd
import FleetUnit
import Logging

/// `[Install]` sections: fleet enables one at runtime when it loads the unit and disables it when
/// it unloads the unit. Its documented sidekick pattern depends on it: a sidekick with
/// `WantedBy=app.service`, `BindsTo=app.service` and `MachineOf=app.service` is started by
/// systemd whenever the app starts on that machine, and stopped with it.
extension Agent {
    /// Enables the `[Install]` sections of units whose files were just written.
    ///
    /// - Returns: true when systemd changed links, so the batch's daemon-reload is needed
    ///   (the `WantedBy=` unit may be loaded already and must see its new dependency).
    func enableInstallSections(_ files: [UnitName: UnitFile]) async -> Bool {
        let names = files.filter { $0.value.hasInstallSection }.map(\.key.rawValue).sorted()
        guard !names.isEmpty else { return false }
        if let changed = try? await units.enableRuntime(names) { return changed }
        // One unit systemd refuses (a bad [Install] line) fails the whole call: enable one by
        // one, so it spoils nothing for the others.
        var changed = false
        for name in names {
            do {
                changed = try await units.enableRuntime([name]) || changed
            } catch {
                // The unit still loads and starts; only what systemd would start along with it is missing.
                logger.warning("cannot enable the unit's [Install] section",
                               metadata: ["unit.name": "\(name)", "error": "\(error)"])
            }
        }
        return changed
    }

    /// Disables a unit's `[Install]` section before its file is removed: when its contents
    /// (cached here, else from the store) have one, or cannot be read (disabling a unit that
    /// was never enabled changes nothing).
    ///
    /// - Returns: true when systemd removed links (a daemon-reload is needed).
    func disableInstallSection(_ unit: UnitName) async -> Bool {
        if let hash = await local.units[unit]?.hash, let file = try? await unitFile(hash), !file.hasInstallSection {
            return false
        }
        do {
            return try await units.disableRuntime([unit.rawValue])
        } catch {
            logger.warning("cannot disable the unit's [Install] section",
                           metadata: ["unit.name": "\(unit)", "error": "\(error)"])
            return false
        }
    }
}
