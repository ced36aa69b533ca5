import FleetRegistry
import FleetSystemd
import FleetUnit

/// What the agent has done on this machine: which units it loaded (with which contents), how far
/// it took each, and the last state systemd reported.
actor LocalUnits {
    struct Local {
        var hash: UnitHash
        var jobState: DesiredState
        var systemd: SystemdUnitState?
        /// The name is a unit the host has outside fleet's directory: the agent refused it and
        /// never touches the host's unit (no file, no start, no stop).
        var refusedAsHostUnit = false
        /// Stopped by the isolation fence; started again once the machine is back.
        var fenced = false
        /// Loaded to be started in the same pass: its state is published once systemd reports
        /// the started unit past `inactive` (or the start failed, or ``Agent/startReportWait``
        /// passed), not as systemd first reports it (loaded, inactive), nor as launched but still
        /// inactive a moment before systemd says it is active. One store write per unit started
        /// instead of three; on etcd each was a raft entry.
        var publishHeld = false
    }

    /// What the agent reports for a unit it refused because the host already has one so named.
    static let hostUnitState = SystemdUnitState(loadState: "refused", activeState: .inactive, subState: "host-unit")

    let machine: MachineID
    var units: [UnitName: Local] = [:]
    /// Contents of the units this machine runs, by hash; dropped with the last unit using it.
    var files: [UnitHash: UnitFile] = [:]
    /// Units whose file was removed since the last daemon-reload. Removing a stopped unit's file
    /// needs no reload (systemd drops the unit once it is inactive and nothing refers to it),
    /// but systemd may still hold one of these with its old contents: a new file of that name
    /// needs a reload before its start.
    private(set) var removedSinceReload: Set<UnitName> = []
    /// Past this many names the agent reloads anyway: the set stays bounded on a machine that
    /// only ever sees new unit names come and go (`job@<uuid>` services), and one reload per
    /// that many removals costs nothing that matters.
    static let maxRemovedBeforeReload = 1024

    init(machine: MachineID) {
        self.machine = machine
    }

    func fileRemoved(_ unit: UnitName) { removedSinceReload.insert(unit) }

    func reloaded() { removedSinceReload = [] }

    /// The tasks that take this machine from what it runs to `desired`.
    func plan(desired: [UnitName: Assignment]) -> AgentPlan {
        var plan = AgentPlan()
        for (name, local) in units.sorted(by: { $0.key < $1.key }) {
            if let wanted = desired[name], wanted.hash == local.hash, wanted.desiredState != .inactive { continue }
            plan.unload.append(name)
        }
        for (name, wanted) in desired.sorted(by: { $0.key < $1.key }) where wanted.desiredState != .inactive {
            let current = units[name].flatMap { $0.hash == wanted.hash ? $0.jobState : nil }
            if current == nil { plan.load.append((name, wanted.hash)) }
            switch (current ?? .loaded, wanted.desiredState) {
            case (.loaded, .launched), (.inactive, .launched): plan.start.append(name)
            case (.launched, .loaded): plan.stop.append(name)
            default: break
            }
        }
        return plan
    }

    func loaded(_ unit: UnitName, hash: UnitHash, startFollows: Bool = false) {
        units[unit] = Local(hash: hash, jobState: .loaded, systemd: units[unit]?.systemd, publishHeld: startFollows)
    }

    /// Whether systemd's latest report of the unit is to be published: not while its state is
    /// held (``Local/publishHeld``) before its start was sent; after it, this report ends the hold.
    func publishesReport(_ unit: UnitName) -> Bool {
        guard let local = units[unit], local.publishHeld else { return true }
        guard local.jobState == .launched else { return false }
        units[unit]?.publishHeld = false
        return true
    }

    /// Records that the unit's start was sent. Returns whether its state is to be published now:
    /// it waits, still held, while systemd has not reported it past `inactive`.
    func startSent(_ unit: UnitName) -> Bool {
        setJobState(unit, .launched, endingHold: false)
        guard let local = units[unit], local.publishHeld else { return true }
        guard (local.systemd?.activeState ?? .inactive) == .inactive else {
            units[unit]?.publishHeld = false
            return true
        }
        return false
    }

    /// Ends the unit's hold; true when it was held (so its state is still to be published).
    func endHold(_ unit: UnitName) -> Bool {
        guard units[unit]?.publishHeld == true else { return false }
        units[unit]?.publishHeld = false
        return true
    }

    /// Takes a unit found in systemd (a marked file) into the agent's books as it is, running or not.
    func adopt(_ unit: UnitName, hash: UnitHash, running: Bool) {
        units[unit] = Local(hash: hash, jobState: running ? .launched : .loaded, systemd: nil)
    }

    /// Books a unit the agent refused to load because the host has its own unit of that name.
    func refuseAsHostUnit(_ unit: UnitName, hash: UnitHash) {
        units[unit] = Local(hash: hash, jobState: .loaded, systemd: Self.hostUnitState, refusedAsHostUnit: true)
    }

    func isRefusedHostUnit(_ unit: UnitName) -> Bool { units[unit]?.refusedAsHostUnit == true }

    /// Units known here whose file the last stock-taking did not find, so they are loaded anew.
    func forgetMissing(keeping found: Set<UnitName>) -> [UnitName] {
        let missing = units.filter { !found.contains($0.key) && !$0.value.refusedAsHostUnit }.map(\.key)
        for unit in missing { units[unit] = nil }
        return missing
    }

    func isKnown(_ unit: UnitName) -> Bool { units[unit] != nil }

    /// Launched units, with their contents' hash, that the fence may have to stop.
    func launched() -> [(UnitName, UnitHash)] {
        units.filter { $0.value.jobState == .launched && !$0.value.refusedAsHostUnit }
            .map { ($0.key, $0.value.hash) }.sorted { $0.0 < $1.0 }
    }

    func setFenced(_ unit: UnitName) {
        units[unit]?.jobState = .loaded
        units[unit]?.fenced = true
    }

    func isFenced(_ unit: UnitName) -> Bool { units[unit]?.fenced == true }

    /// Sets what the agent last did with the unit; that ends any hold on its state unless told not to.
    func setJobState(_ unit: UnitName, _ state: DesiredState, endingHold: Bool = true) {
        units[unit]?.jobState = state
        if endingHold { units[unit]?.publishHeld = false }
        if state == .launched { units[unit]?.fenced = false }
    }

    func forget(_ unit: UnitName) {
        units[unit] = nil
        let used = Set(units.values.map(\.hash))
        files = files.filter { used.contains($0.key) }
    }

    func file(_ hash: UnitHash) -> UnitFile? { files[hash] }

    func remember(_ file: UnitFile, hash: UnitHash) { files[hash] = file }

    /// Records systemd's report; true when it concerns a unit of ours and changed something.
    func systemdStateChanged(_ unit: UnitName, _ state: SystemdUnitState) -> Bool {
        guard let local = units[unit], !local.refusedAsHostUnit, local.systemd != state else { return false }
        units[unit]?.systemd = state
        return true
    }

    func names() -> [UnitName] { units.keys.sorted() }

    func stateRecord(_ unit: UnitName) -> UnitStateRecord? {
        guard let local = units[unit] else { return nil }
        let systemd = local.systemd ?? SystemdUnitState(loadState: "loaded", activeState: .inactive, subState: "dead")
        return UnitStateRecord(name: unit, machineID: machine, hash: local.hash, loadState: systemd.loadState,
                               activeState: systemd.activeState, subState: systemd.subState, jobState: local.jobState)
    }
}

/// One reconcile's tasks, carried out in this order: unload, load (one daemon-reload), stop, start.
struct AgentPlan {
    var unload: [UnitName] = []
    var load: [(UnitName, UnitHash)] = []
    var stop: [UnitName] = []
    var start: [UnitName] = []
}
