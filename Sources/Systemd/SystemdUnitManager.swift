import FleetUnit

/// A ``UnitManager`` backed by a real systemd, over sd-bus.
///
/// One D-Bus connection, owned by a dedicated thread (sd-bus is not thread-safe); every
/// method queues work for that thread and awaits the result, so no cooperative thread ever
/// blocks on the bus. Unit files are written on the same thread, in call order.
///
/// After connecting it calls `Manager.Subscribe` and matches `PropertiesChanged` for all unit
/// objects; ``stateChanges`` reports watched units from those signals, never by polling.
/// A lost connection (systemd re-executed, the bus daemon restarted) is made anew by itself:
/// calls fail meanwhile, and every watched unit whose state changed is reported once it is back.
/// The stream finishes when the manager is closed.
///
/// ```swift
/// let units = try SystemdUnitManager(bus: .system, unitDirectory: "/run/systemd/system")
/// if try await units.writeUnitFile("web.service", contents: text) == .modified { try await units.reload() }
/// await units.watch("web.service")
/// try await units.start("web.service")
/// ```
public final class SystemdUnitManager: UnitManager {
    public let stateChanges: AsyncStream<(unit: String, state: SystemdUnitState)>
    /// Where ``writeUnitFile(_:contents:)`` puts unit files.
    public let unitDirectory: String
    private let loop: BusLoop
    /// Whether the connection goes straight to the manager's own socket rather than through the
    /// bus daemon (see ``SystemdBusAddress``); fleetd logs it at start.
    public let isDirect: Bool

    /// Connects to `bus`; subscription to systemd's signals follows on the bus thread.
    ///
    /// - Parameters:
    ///   - bus: ``SystemdBusAddress/system`` in production, ``SystemdBusAddress/user`` on the test rig.
    ///   - unitDirectory: the manager's runtime unit directory, e.g. `/run/systemd/system` or
    ///     `$XDG_RUNTIME_DIR/systemd/user` (see ``SystemdBusAddress/runtimeUnitDirectory``);
    ///     created on the first write.
    /// - Throws: ``SystemdError`` if the bus cannot be opened. A later failure to subscribe
    ///   surfaces as the error of every call, and the stream finishes.
    public init(bus: SystemdBusAddress, unitDirectory: String) throws {
        let (stream, continuation) = AsyncStream<(unit: String, state: SystemdUnitState)>.makeStream()
        let connection = try BusConnection(address: bus, changes: continuation)
        self.isDirect = connection.isDirect
        self.loop = try BusLoop(connection: connection)
        self.stateChanges = stream
        self.unitDirectory = unitDirectory
    }

    deinit { loop.shutdown() }

    /// Closes the connection and stops its thread; ``stateChanges`` finishes.
    ///
    /// Calls made afterwards throw ``SystemdError/Code/connectionClosed``.
    public func close() async { await loop.close() }

    public func writeUnitFile(_ name: String, contents: String) async throws -> UnitFileWrite {
        let directory = UnitDirectory(path: unitDirectory)
        return try await loop.perform { _ throws(SystemdError) in try directory.write(name, contents: contents) }
    }

    public func removeUnitFile(_ name: String) async throws -> Bool {
        let directory = UnitDirectory(path: unitDirectory)
        return try await loop.perform { _ throws(SystemdError) in try directory.remove(name) }
    }

    public func reload() async throws {
        try await loop.perform { connection throws(SystemdError) in try connection.reload() }
    }

    public func enableRuntime(_ names: [String]) async throws -> Bool {
        guard !names.isEmpty else { return false }
        return try await loop.perform { connection throws(SystemdError) in try connection.enableUnitFiles(names) > 0 }
    }

    public func disableRuntime(_ names: [String]) async throws -> Bool {
        guard !names.isEmpty else { return false }
        return try await loop.perform { connection throws(SystemdError) in try connection.disableUnitFiles(names) > 0 }
    }

    public func start(_ name: String) async throws {
        try await loop.perform { connection throws(SystemdError) in try connection.startUnit(name) }
    }

    /// Starts many units with the calls pipelined (one bus round trip for the batch, not one each).
    public func start(_ names: [String]) async throws -> [String: any Error] {
        try await loop.perform { connection throws(SystemdError) in
            try connection.startUnits(names).mapValues { $0 as any Error }
        }
    }

    public func stop(_ name: String) async throws {
        try await loop.perform { connection throws(SystemdError) in try connection.stopUnit(name) }
    }

    /// Stops many units with the calls pipelined (one bus round trip for the batch).
    public func stop(_ names: [String]) async throws -> [String: any Error] {
        try await loop.perform { connection throws(SystemdError) in
            try connection.stopUnits(names).mapValues { $0 as any Error }
        }
    }

    /// Resets many units' failed state with the calls pipelined.
    public func resetFailed(_ names: [String]) async throws -> [String: any Error] {
        try await loop.perform { connection throws(SystemdError) in
            try connection.resetFailedUnits(names).mapValues { $0 as any Error }
        }
    }

    public func restart(_ name: String) async throws {
        try await loop.perform { connection throws(SystemdError) in try connection.restartUnit(name) }
    }

    public func resetFailed(_ name: String) async throws {
        try await loop.perform { connection throws(SystemdError) in try connection.resetFailedUnit(name) }
    }

    public func state(of name: String) async throws -> SystemdUnitState {
        try await loop.perform { connection throws(SystemdError) in try connection.unitState(name).state }
    }

    /// Everything `systemctl status` would show about the unit, read over the bus. A unit
    /// systemd does not know is returned with `LoadState` `not-found`, not thrown.
    public func details(of name: String) async throws -> SystemdUnitDetails {
        try await loop.perform { connection throws(SystemdError) in
            SystemdUnitDetails(name: name, properties: try connection.unitProperties(all: name))
        }
    }

    public func watch(_ name: String) async {
        await watch([name])
    }

    /// Watches many units with one bus round trip for their initial states.
    public func watch(_ names: [String]) async {
        // Only fails once the connection is gone, and then the stream has finished anyway.
        try? await loop.perform { connection in connection.watch(names) }
    }

    public func markedUnitFiles(marker: String) async throws -> [String: String] {
        let directory = UnitDirectory(path: unitDirectory)
        return try await loop.perform { _ throws(SystemdError) in try directory.markedFiles(marker: marker) }
    }

    /// A unit is the host's when systemd can load it (any load state but `not-found`, or it
    /// still runs or is on its way) while this runtime directory has no file of that name, and
    /// what systemd holds was not loaded from this directory: its `FragmentPath` is elsewhere, or
    /// it has none and runs (a scope, a mount). One `ListUnitsByNames` for the batch; a unit
    /// that looks like the host's has its properties read.
    ///
    /// systemd keeps a unit whose file fleet removed until nothing refers to it: while its stop
    /// finishes (a stop call returns once the job is queued) or while it is failed. A unit
    /// replaced with new contents is removed and written again in one pass, so that copy must
    /// not count as the host's.
    public func hostUnits(_ names: [String]) async throws -> Set<String> {
        guard !names.isEmpty else { return [] }
        let directory = UnitDirectory(path: unitDirectory)
        return try await loop.perform { connection throws(SystemdError) in
            var candidates: [String] = []
            for name in names where try directory.read(name) == nil { candidates.append(name) }
            guard !candidates.isEmpty else { return [] }
            let states = try connection.unitStates(candidates).states
            // Not inactive or failed: it runs, or is on its way up or down.
            func running(_ state: ActiveState) -> Bool { state != .inactive && state != .failed }
            let suspects = candidates.filter { name in
                guard let state = states[name] else { return false }
                // No file anywhere and nothing running (a failed leftover): nothing to shadow.
                return state.loadState != "not-found" || running(state.activeState)
            }
            var host: Set<String> = []
            for name in suspects {
                // Read again in one reply: a reload meanwhile may have dropped the file's path.
                let properties = try connection.unitProperties(name)
                let fragment = if case .string(let path)? = properties["FragmentPath"] { path } else { "" }
                let active: ActiveState? = if case .string(let state)? = properties["ActiveState"] { ActiveState(rawValue: state) } else { nil }
                if fragment.isEmpty ? active.map(running) ?? true : !directory.contains(path: fragment) { host.insert(name) }
            }
            return host
        }
    }

    public func unwatch(_ name: String) async {
        try? await loop.perform { connection in connection.unwatch(name) }
    }
}
