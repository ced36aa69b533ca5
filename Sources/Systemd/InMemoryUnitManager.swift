import FleetUnit

/// A complete in-memory ``UnitManager`` for fast tests: no systemd, no files.
///
/// It follows systemd's observable rules closely enough for fleet's agent:
/// * a new unit file is picked up when the unit is started (systemd re-scans its directories
///   for a name it has not loaded); a changed one only takes effect on ``reload()``, and so does
///   a removed one, except that a unit not running (or failed) is dropped when its file goes,
///   as systemd drops an inactive unit nothing refers to;
///   a unit with no file is `not-found`, ``start(_:)`` throws ``SystemdError/Code/noSuchUnit``;
/// * start goes `activating/start` → `active/running`, or → `failed/failed` when the file
///   contains `ExecStart=/bin/false`; stop goes `deactivating/stop-sigterm` → `inactive/dead`
///   (a failed unit stays failed until ``resetFailed(_:)``);
/// * ``stateChanges`` carries watched units' states like ``SystemdUnitManager``: the current
///   state on ``watch(_:)``, then each change of the (load, active, sub) triple.
///
/// ``setState(_:activeState:subState:)`` simulates what happens outside fleet (a crash);
/// ``failNextCall(with:)`` makes the next throwing call fail, to test error paths.
public actor InMemoryUnitManager: UnitManager {
    public nonisolated let stateChanges: AsyncStream<(unit: String, state: SystemdUnitState)>
    private let changes: AsyncStream<(unit: String, state: SystemdUnitState)>.Continuation

    /// Unit files as written, by name.
    public private(set) var unitFiles: [String: String] = [:]
    /// Unit files as of the last ``reload()``.
    private var loadedFiles: [String: String] = [:]
    private var runtime: [String: (activeState: ActiveState, subState: String)] = [:]
    /// Watched units and the state last emitted for each.
    private var watched: [String: SystemdUnitState] = [:]
    /// How many times ``reload()`` ran.
    public private(set) var reloadCount = 0
    /// How many times each unit was really started (from not running) and really stopped, so a
    /// test can tell an adopted unit from a restarted one.
    public private(set) var starts: [String: Int] = [:]
    public private(set) var stops: [String: Int] = [:]
    /// When each unit was last really stopped: a test of a deadline reads the stop's own time,
    /// not when its polling (on a busy machine, late) first saw it.
    public private(set) var lastStopped: [String: ContinuousClock.Instant] = [:]
    /// How many times each unit was restarted (the agent re-arms its fence timer so).
    public private(set) var restarts: [String: Int] = [:]
    private var injectedFailure: (any Error)?
    /// Starts wait here while ``holdStarts()`` is in force.
    private var heldStarts: [CheckedContinuation<Void, Never>]?
    /// Start calls waiting in ``holdStarts()``'s gate.
    public var startsWaiting: Int { heldStarts?.count ?? 0 }
    private var hostUnitNames: Set<String> = []
    private var unstoppable: Set<String> = []
    private var unenableable: Set<String> = []

    public init() {
        (stateChanges, changes) = AsyncStream<(unit: String, state: SystemdUnitState)>.makeStream()
    }

    deinit { changes.finish() }

    public func writeUnitFile(_ name: String, contents: String) throws -> UnitFileWrite {
        try throwInjectedFailure()
        try UnitDirectory.validate(name, call: "writeUnitFile")
        let old = unitFiles.updateValue(contents, forKey: name)
        return old == contents ? .unchanged : old == nil ? .created : .modified
    }

    public func removeUnitFile(_ name: String) throws -> Bool {
        try throwInjectedFailure()
        try UnitDirectory.validate(name, call: "removeUnitFile")
        let removed = unitFiles.removeValue(forKey: name) != nil
        dropIfUnused(name)
        return removed
    }

    /// systemd's garbage collection: a loaded unit whose file is gone and that is neither
    /// running nor failed is dropped (systemd keeps one that another refers to; here none is).
    private func dropIfUnused(_ name: String) {
        guard unitFiles[name] == nil, !(runtime[name]?.activeState.isRunning ?? false),
              runtime[name]?.activeState != .failed else { return }
        loadedFiles[name] = nil
    }

    public func reload() throws {
        try throwInjectedFailure()
        reloadCount += 1
        loadedFiles = unitFiles
        for name in watched.keys { emitIfChanged(name) }
    }

    /// Units whose `[Install]` section is enabled for this boot (``enableRuntime(_:)``).
    public private(set) var runtimeEnabled: Set<String> = []

    /// Like systemd: a unit with no file cannot be enabled; one whose file has no `[Install]`
    /// section links nothing.
    public func enableRuntime(_ names: [String]) throws -> Bool {
        try throwInjectedFailure()
        var changed = false
        for name in names {
            guard let file = unitFiles[name] else {
                throw SystemdError(code: .busError, call: "EnableUnitFiles", unit: name,
                                   busErrorName: "org.freedesktop.DBus.Error.FileNotFound",
                                   message: "Unit file \(name) does not exist.")
            }
            if unenableable.contains(name) {
                throw SystemdError(code: .busError, call: "EnableUnitFiles", unit: name,
                                   busErrorName: "org.freedesktop.systemd1.BadUnitSetting",
                                   message: "Unit \(name) has a bad [Install] section.")
            }
            guard file.contains("[Install]") else { continue }
            changed = runtimeEnabled.insert(name).inserted || changed
        }
        return changed
    }

    public func disableRuntime(_ names: [String]) throws -> Bool {
        try throwInjectedFailure()
        var changed = false
        for name in names { changed = runtimeEnabled.remove(name) != nil || changed }
        return changed
    }

    public func start(_ name: String) throws {
        try throwInjectedFailure()
        loadOnDemand(name)
        guard let file = loadedFiles[name] else {
            throw SystemdError(
                code: .noSuchUnit, call: "StartUnit", unit: name, busErrorName: SystemdError.noSuchUnitErrorName,
                message: "Unit \(name) not found.")
        }
        let active = runtime[name]?.activeState
        guard active != .active, active != .activating else { return }
        starts[name, default: 0] += 1
        set(name, .activating, "start")
        if file.contains("ExecStart=/bin/false") {
            set(name, .failed, "failed")
        } else {
            set(name, .active, "running")
        }
    }

    public func stop(_ name: String) throws {
        try throwInjectedFailure()
        if unstoppable.contains(name) {
            throw SystemdError(code: .busError, call: "StopUnit", unit: name,
                               busErrorName: "org.freedesktop.systemd1.OperationRefused",
                               message: "Operation refused, unit \(name) may be requested by dependency only.")
        }
        guard let active = runtime[name]?.activeState, active.isRunning
        else { return }  // unknown, inactive or failed: nothing to stop
        stops[name, default: 0] += 1
        lastStopped[name] = .now
        set(name, .deactivating, "stop-sigterm")
        set(name, .inactive, "dead")
    }

    public func restart(_ name: String) throws {
        try throwInjectedFailure()
        restarts[name, default: 0] += 1
        if let active = runtime[name]?.activeState, active.isRunning {
            set(name, .deactivating, "stop-sigterm")
            set(name, .inactive, "dead")
        }
        try start(name)
    }

    public func resetFailed(_ name: String) throws {
        try throwInjectedFailure()
        guard runtime[name]?.activeState == .failed else { return }
        set(name, .inactive, "dead")
        dropIfUnused(name)
    }

    public func state(of name: String) throws -> SystemdUnitState {
        try throwInjectedFailure()
        return currentState(of: name)
    }

    /// systemd loads a unit the first time it is referenced, from whatever file is there then.
    private func loadOnDemand(_ name: String) {
        if loadedFiles[name] == nil, let file = unitFiles[name] { loadedFiles[name] = file }
    }

    private func currentState(of name: String) -> SystemdUnitState {
        loadOnDemand(name)
        let runtime = runtime[name] ?? (activeState: .inactive, subState: "dead")
        return SystemdUnitState(
            loadState: loadedFiles[name] == nil ? "not-found" : "loaded",
            activeState: runtime.activeState, subState: runtime.subState)
    }

    public func watch(_ name: String) {
        let current = currentState(of: name)
        watched[name] = current
        changes.yield((unit: name, state: current))
    }

    public func unwatch(_ name: String) {
        watched[name] = nil
    }

    public func markedUnitFiles(marker: String) throws -> [String: String] {
        try throwInjectedFailure()
        var found: [String: String] = [:]
        for (name, contents) in unitFiles {
            let line = String(contents.prefix { $0 != "\n" })
            if line.hasPrefix(marker) { found[name] = line }
        }
        return found
    }

    public func hostUnits(_ names: [String]) throws -> Set<String> {
        try throwInjectedFailure()
        return Set(names.filter { hostUnitNames.contains($0) && unitFiles[$0] == nil })
    }

    /// Declares units the host has outside fleet's directory (`ssh.service`, `-.mount`), which
    /// ``hostUnits(_:)`` then reports.
    public func addHostUnits(_ names: [String]) {
        hostUnitNames.formUnion(names)
    }

    /// Makes every enable of `name` fail (and every batch it is in), as systemd refuses a
    /// unit with a bad `[Install]` section.
    public func refuseEnabling(_ name: String) {
        unenableable.insert(name)
    }

    /// Makes every stop of `name` fail as systemd refuses to stop `-.mount`.
    public func refuseStopping(_ name: String) {
        unstoppable.insert(name)
    }

    /// Writes a unit file as if it had been left by an earlier fleetd (a crash), starting the
    /// unit if `running`: what the agent must adopt or remove.
    public func leaveBehind(_ name: String, contents: String, running: Bool) {
        unitFiles[name] = contents
        loadedFiles[name] = contents
        if running { runtime[name] = (activeState: .active, subState: "running") }
    }

    /// Sets a unit's active and sub state as if something outside fleet changed it
    /// (e.g. `setState("web.service", activeState: .failed, subState: "failed")` for a crash).
    public func setState(_ name: String, activeState: ActiveState, subState: String) {
        set(name, activeState, subState)
    }

    /// Makes every start call (``start(_:)`` of a batch) wait until ``releaseStarts()``, as a
    /// start does while systemd is busy, so a test can look at what happens meanwhile.
    public func holdStarts() {
        if heldStarts == nil { heldStarts = [] }
    }

    /// Lets the held start calls go on, and later ones through at once.
    public func releaseStarts() {
        let waiting = heldStarts ?? []
        heldStarts = nil
        for waiter in waiting { waiter.resume() }
    }

    public func start(_ names: [String]) async throws -> [String: any Error] {
        if heldStarts != nil {
            await withCheckedContinuation { heldStarts?.append($0) ?? $0.resume() }
        }
        var failures: [String: any Error] = [:]
        for name in names {
            do { try start(name) } catch { failures[name] = error }
        }
        return failures
    }

    /// Makes the next throwing call (any of them) throw `error` instead of doing anything.
    public func failNextCall(with error: any Error) {
        injectedFailure = error
    }

    private func throwInjectedFailure() throws {
        guard let error = injectedFailure else { return }
        injectedFailure = nil
        throw error
    }

    private func set(_ name: String, _ activeState: ActiveState, _ subState: String) {
        runtime[name] = (activeState, subState)
        emitIfChanged(name)
    }

    private func emitIfChanged(_ name: String) {
        guard let last = watched[name] else { return }
        let current = currentState(of: name)
        guard current != last else { return }
        watched[name] = current
        changes.yield((unit: name, state: current))
    }
}
