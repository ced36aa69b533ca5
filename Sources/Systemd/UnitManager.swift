/// What writing a unit file did.
public enum UnitFileWrite: Sendable, Equatable {
    /// The file already held exactly these contents.
    case unchanged
    /// There was no file of that name.
    case created
    /// The file held other contents: systemd needs a reload to see them.
    case modified
}

/// What fleet's agent needs from an init system: unit files, jobs, and unit state.
///
/// ``SystemdUnitManager`` implements it over sd-bus; ``InMemoryUnitManager`` is the fake.
/// Unit names are full systemd names such as `web@1.service`.
public protocol UnitManager: Sendable {
    /// Writes the unit file into the manager's runtime unit directory.
    ///
    /// - Returns: whether the file is new, changed or unchanged. systemd picks up a *new* file by
    ///   itself when the unit is first started (it re-scans its unit directories when a name is
    ///   not found); a *modified* one needs ``reload()``, once per batch.
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/invalidUnitName`` for a name that
    ///   cannot be a file name, or ``SystemdError/Code/systemCall`` when the write fails.
    func writeUnitFile(_ name: String, contents: String) async throws -> UnitFileWrite

    /// Removes the unit file from the runtime unit directory.
    ///
    /// - Returns: true if the file existed.
    func removeUnitFile(_ name: String) async throws -> Bool

    /// Makes the manager re-read unit files (`Manager.Reload`, i.e. `daemon-reload`).
    func reload() async throws

    /// Enables the `[Install]` sections of these units' files for this boot only
    /// (`systemctl enable --runtime --force`), as fleet does when it loads a unit that has one:
    /// its sidekick pattern (`WantedBy=app.service`) relies on it.
    ///
    /// - Returns: true when links changed; then ``reload()`` makes units systemd already loaded
    ///   (the `WantedBy=` unit) see them.
    /// - Throws: ``SystemdError`` when the manager refuses (a unit with no file).
    func enableRuntime(_ names: [String]) async throws -> Bool

    /// Undoes ``enableRuntime(_:)`` (`systemctl disable --runtime`), before the unit's file is
    /// removed. A unit that was never enabled is not an error.
    ///
    /// - Returns: true when links were removed (``reload()`` then, as for a removed file).
    func disableRuntime(_ names: [String]) async throws -> Bool

    /// Queues a start job (`StartUnit(name, "replace")`); returns once the job is queued.
    ///
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/noSuchUnit`` if the unit has no file.
    func start(_ name: String) async throws

    /// ``start(_:)`` for many units at once (pipelined where the manager can).
    ///
    /// - Returns: the units whose start failed, with the error; empty when all were queued.
    /// - Throws: only when the manager cannot be reached at all.
    func start(_ names: [String]) async throws -> [String: any Error]

    /// Queues a stop job (`StopUnit(name, "replace")`). A unit systemd does not know is not an error.
    func stop(_ name: String) async throws

    /// ``stop(_:)`` for many units at once (pipelined where the manager can).
    ///
    /// - Returns: the units whose stop failed, with the error; empty when all were queued.
    /// - Throws: only when the manager cannot be reached at all.
    func stop(_ names: [String]) async throws -> [String: any Error]

    /// Queues a restart job (`RestartUnit(name, "replace")`): starts the unit if it is not
    /// running. Restarting a timer re-arms its `OnActiveSec=` from now.
    func restart(_ name: String) async throws

    /// Clears a unit's failed state (`ResetFailedUnit`). Unknown or non-failed units are not an error.
    func resetFailed(_ name: String) async throws

    /// ``resetFailed(_:)`` for many units at once (pipelined where the manager can).
    func resetFailed(_ names: [String]) async throws -> [String: any Error]

    /// The unit's current load, active and sub state, read from the manager.
    func state(of name: String) async throws -> SystemdUnitState

    /// Starts reporting this unit's state on ``stateChanges``.
    ///
    /// The unit's current state is emitted before this returns, so a consumer never misses
    /// the initial state; after that only real changes of the (load, active, sub) triple.
    func watch(_ name: String) async

    /// ``watch(_:)`` for several units at once (one round trip where the manager can).
    func watch(_ names: [String]) async

    /// Stops reporting this unit's state.
    func unwatch(_ name: String) async

    /// The unit files in the runtime unit directory whose first line starts with `marker`, by
    /// name, with that first line. The agent marks every file it writes, so after a crash it can
    /// tell its own files (to adopt or remove) from anything else in the directory.
    func markedUnitFiles(marker: String) async throws -> [String: String]

    /// Those of `names` that the manager already has from somewhere other than this runtime
    /// unit directory (a file in `/etc` or `/lib`, a generator, a transient unit): the host's
    /// own units, which fleet must never overwrite, stop or remove.
    func hostUnits(_ names: [String]) async throws -> Set<String>

    /// State changes of watched units, in order. Meant for a single consumer.
    var stateChanges: AsyncStream<(unit: String, state: SystemdUnitState)> { get }
}

extension UnitManager {
    public func start(_ names: [String]) async throws -> [String: any Error] {
        var failures: [String: any Error] = [:]
        for name in names {
            do { try await start(name) } catch { failures[name] = error }
        }
        return failures
    }

    public func stop(_ names: [String]) async throws -> [String: any Error] {
        var failures: [String: any Error] = [:]
        for name in names {
            do { try await stop(name) } catch { failures[name] = error }
        }
        return failures
    }

    public func resetFailed(_ names: [String]) async throws -> [String: any Error] {
        var failures: [String: any Error] = [:]
        for name in names {
            do { try await resetFailed(name) } catch { failures[name] = error }
        }
        return failures
    }

    public func watch(_ names: [String]) async {
        for name in names { await watch(name) }
    }
}
