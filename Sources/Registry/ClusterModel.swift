import FleetStore
import FleetUnit

/// What the engine schedules from — units, live machines and assignments — kept in memory
/// and updated from store events, so a pass does not re-read and re-decode the whole registry.
///
/// Load it once (``load(from:)``), then ``apply(_:)`` every event of a recursive watch of the
/// registry prefix that follows the load. Keys it does not model (states, unit contents, the
/// lease) are ignored. Events replayed from before the load converge: the latest event wins.
public struct ClusterModel: Sendable {
    struct Job: Sendable {
        var object: JobObject?
        var desiredState: DesiredState?
        var target: MachineID?
        var unplaceable: String?
    }

    struct Machine: Sendable {
        var record: MachineRecord?
        var dynamicMetadata: [String: String] = [:]
    }

    public let keys: RegistryKeys
    var jobs: [UnitName: Job] = [:]
    var machineDirectories: [MachineID: Machine] = [:]
    public private(set) var assignments: [MachineID: [UnitName: Assignment]] = [:]

    public init(keys: RegistryKeys) {
        self.keys = keys
    }

    /// Every complete unit (contents and desired state known), sorted by name, as
    /// ``Registry/units()`` reads them.
    public var units: [UnitRecord] {
        jobs.compactMap { name, job -> UnitRecord? in
            guard let object = job.object, let state = job.desiredState else { return nil }
            return UnitRecord(name: object.name, hash: object.hash, desiredState: state, target: job.target,
                              unplaceableReason: job.unplaceable)
        }
        .sorted { $0.name < $1.name }
    }

    /// Live machines with merged metadata, sorted by ID, as ``Registry/machines()`` reads them.
    public var machines: [MachineRecord] {
        machineDirectories.values.compactMap { machine -> MachineRecord? in
            guard var record = machine.record else { return nil }
            for (key, value) in machine.dynamicMetadata {
                record.metadata[key] = value.isEmpty ? nil : value
            }
            return record
        }
        .sorted { $0.id < $1.id }
    }

    /// Reads everything it models from the registry (three recursive reads).
    public mutating func load(from registry: Registry) async throws {
        jobs = [:]
        machineDirectories = [:]
        assignments = [:]
        for root in [keys.jobs, keys.machines, keys.schedules] {
            guard let node = try await registry.store.getIfPresent(root, recursive: true) else { continue }
            for leaf in node.leaves { set(leaf.key, leaf.value) }
        }
    }

    /// Applies one store event.
    public mutating func apply(_ event: StoreEvent) {
        if event.isRemoval {
            remove(event.node.key, directory: event.node.isDirectory)
        } else if !event.node.isDirectory {
            set(event.node.key, event.node.value)
        }
    }

    /// Whether `key` is the desired state of a unit without a job object yet. The registry
    /// writes a new unit's desired state before its job object (``Registry/createUnit(_:file:desiredState:)``),
    /// so such a key changes nothing a pass plans from, and the job object that follows does.
    public func isDesiredStateOfUnknownUnit(_ key: String) -> Bool {
        guard let parts = parts(key), parts.count == 3, parts[0] == "job", parts[2] == "target-state",
              let name = try? UnitName(String(parts[1]))
        else { return false }
        return jobs[name]?.object == nil
    }

    /// The key's path below the prefix, split: `["job", "web.service", "object"]`.
    private func parts(_ key: String) -> [Substring]? {
        guard StoreKey.isWithin(key, keys.prefix), key.count > keys.prefix.count else { return nil }
        return key.dropFirst(keys.prefix.count + 1).split(separator: "/", omittingEmptySubsequences: true)
    }

    private mutating func set(_ key: String, _ value: String?) {
        guard let parts = parts(key), let value else { return }
        switch (parts.first, parts.count) {
        case ("job", 3):
            guard let name = try? UnitName(String(parts[1])) else { return }
            var job = jobs[name] ?? Job()
            switch parts[2] {
            case "object": job.object = Registry.decode(JobObject.self, value)
            case "target-state": job.desiredState = DesiredState(rawValue: value)
            case "target": job.target = MachineID(value)
            case "unplaceable": job.unplaceable = value
            default: return
            }
            jobs[name] = job
        case ("machines", 3) where parts[2] == "object":
            machineDirectories[MachineID(String(parts[1])), default: Machine()].record = Registry.decode(MachineRecord.self, value)
        case ("machines", 4) where parts[2] == "metadata":
            machineDirectories[MachineID(String(parts[1])), default: Machine()].dynamicMetadata[String(parts[3])] = value
        case ("schedule", 3):
            guard let name = try? UnitName(String(parts[2])), let assignment = Registry.decode(Assignment.self, value)
            else { return }
            assignments[MachineID(String(parts[1])), default: [:]][name] = assignment
        default:
            return
        }
    }

    private mutating func remove(_ key: String, directory: Bool) {
        guard let parts = parts(key) else {
            // The prefix itself (or above it) went: nothing is left.
            if StoreKey.isWithin(keys.prefix, key) { self = ClusterModel(keys: keys) }
            return
        }
        switch (parts.first, parts.count) {
        case ("job", 1): jobs = [:]
        case ("job", 2): if let name = try? UnitName(String(parts[1])) { jobs[name] = nil }
        case ("job", 3):
            guard let name = try? UnitName(String(parts[1])), jobs[name] != nil else { return }
            switch parts[2] {
            case "object": jobs[name]?.object = nil
            case "target-state": jobs[name]?.desiredState = nil
            case "target": jobs[name]?.target = nil
            case "unplaceable": jobs[name]?.unplaceable = nil
            default: return
            }
        case ("machines", 1): machineDirectories = [:]
        case ("machines", 2): machineDirectories[MachineID(String(parts[1]))] = nil
        case ("machines", 3) where parts[2] == "object": machineDirectories[MachineID(String(parts[1]))]?.record = nil
        case ("machines", 3) where parts[2] == "metadata":
            machineDirectories[MachineID(String(parts[1]))]?.dynamicMetadata = [:]
        case ("machines", 4) where parts[2] == "metadata":
            machineDirectories[MachineID(String(parts[1]))]?.dynamicMetadata[String(parts[3])] = nil
        case ("schedule", 1): assignments = [:]
        case ("schedule", 2): assignments[MachineID(String(parts[1]))] = nil
        case ("schedule", 3):
            guard let name = try? UnitName(String(parts[2])) else { return }
            assignments[MachineID(String(parts[1]))]?[name] = nil
            if assignments[MachineID(String(parts[1]))]?.isEmpty == true { assignments[MachineID(String(parts[1]))] = nil }
        default:
            return
        }
    }
}
