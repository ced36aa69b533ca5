/// What fleet's agent needs from an init system: unit files, jobs, and unit state.
///
/// ``SystemdUnitManager`` implements it over sd-bus; ``InMemoryUnitManager`` is the fake.
/// Unit names are full systemd names such as `web@1.service`.
public protocol UnitManager: Sendable {
    /// Writes the unit file into the manager's runtime unit directory.
    ///
    /// - Returns: true if the content changed; the caller then calls ``reload()`` once per batch.
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/invalidUnitName`` for a name that
    ///   cannot be a file name, or ``SystemdError/Code/systemCall`` when the write fails.
    func writeUnitFile(_ name: String, contents: String) async throws -> Bool

    /// Removes the unit file from the runtime unit directory.
    ///
    /// - Returns: true if the file existed.
    func removeUnitFile(_ name: String) async throws -> Bool

    /// Makes the manager re-read unit files (`Manager.Reload`, i.e. `daemon-reload`).
    func reload() async throws

    /// Queues a start job (`StartUnit(name, "replace")`); returns once the job is queued.
    ///
    /// - Throws: ``SystemdError`` with code ``SystemdError/Code/noSuchUnit`` if the unit has no file.
    func start(_ name: String) async throws

    /// Queues a stop job (`StopUnit(name, "replace")`). A unit systemd does not know is not an error.
    func stop(_ name: String) async throws

    /// Clears a unit's failed state (`ResetFailedUnit`). Unknown or non-failed units are not an error.
    func resetFailed(_ name: String) async throws

    /// The unit's current load, active and sub state, read from the manager.
    func state(of name: String) async throws -> SystemdUnitState

    /// Starts reporting this unit's state on ``stateChanges``.
    ///
    /// The unit's current state is emitted before this returns, so a consumer never misses
    /// the initial state; after that only real changes of the (load, active, sub) triple.
    func watch(_ name: String) async

    /// Stops reporting this unit's state.
    func unwatch(_ name: String) async

    /// State changes of watched units, in order. Meant for a single consumer.
    var stateChanges: AsyncStream<(unit: String, state: SystemdUnitState)> { get }
}
