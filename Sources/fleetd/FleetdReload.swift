import Logging

/// What a reload does: resolve the settings again from their sources, apply the ones that can
/// change while fleetd runs, and name the others that changed (they need a restart).
///
/// `resolve` re-reads the configuration file (the command line and the environment cannot
/// change under a running process); a file that no longer parses or holds a bad value is
/// logged and the running settings are kept.
struct FleetdReload: Sendable {
    /// Settings a reload applies in place.
    static let reloadable: Set<String> = ["verbose"]

    let running: FleetdSettings
    let resolve: @Sendable () throws -> FleetdSettings
    let logLevel: LogLevelSwitch
    let logger: Logger

    func callAsFunction() {
        let fresh: FleetdSettings
        do {
            fresh = try resolve()
        } catch {
            logger.error("configuration reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            return
        }
        logLevel.level = fresh.logLevel
        let needRestart = running.changed(comparedTo: fresh).filter { !Self.reloadable.contains($0) }
        if needRestart.isEmpty {
            logger.info("configuration reloaded", metadata: ["fleetd.log_level": "\(fresh.logLevel)"])
        } else {
            logger.warning("configuration reloaded; changed settings that take effect only after a restart",
                           metadata: ["fleetd.restart_needed": "\(needRestart.joined(separator: ", "))"])
        }
    }
}

extension FleetdSettings {
    /// The log level `--verbose` asks for.
    var logLevel: Logger.Level { verbose ? .debug : .info }

    /// The names of the settings whose values differ from `other`'s, sorted.
    func changed(comparedTo other: FleetdSettings) -> [String] {
        func values(_ settings: FleetdSettings) -> [String: String] {
            var result: [String: String] = [:]
            for child in Mirror(reflecting: settings).children {
                // Where a value came from is no setting (a comment line added above one moves it),
                // nor is whether the default keys listener was left out (it follows from the rest).
                guard let label = child.label, !["provenance", "skippedDefaultKeysListener"].contains(label) else { continue }
                // A dictionary's order is not its value: equal metadata must compare equal.
                if let map = child.value as? [String: String] {
                    result[label] = map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                } else {
                    result[label] = String(describing: child.value)
                }
            }
            return result
        }
        let mine = values(self), theirs = values(other)
        return Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted()
    }
}
