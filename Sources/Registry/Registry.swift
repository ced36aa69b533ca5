import FleetStore
import FleetUnit
import Foundation

/// fleet's typed schema over a ``KeyValueStore``: units, placements, machines, states.
///
/// Every method is one or two store operations; nothing read is cached here (only what
/// decoding a text gave, ``DecodeMemo``), so any number of `Registry` values over the same store
/// agree.
public struct Registry: Sendable {
    public let store: any KeyValueStore
    public let keys: RegistryKeys
    private let decodedStates = DecodeMemo<UnitStateRecord>()
    private let decodedJobs = DecodeMemo<JobObject>()

    public init(store: any KeyValueStore, keys: RegistryKeys = RegistryKeys()) {
        self.store = store
        self.keys = keys
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

// MARK: Units

extension Registry {
    /// Stores a new unit with its contents; the contents are shared by hash with identical units.
    ///
    /// - Throws: ``StoreError/Code/nodeExists`` when a unit of that name is already there.
    public func createUnit(_ name: UnitName, file: UnitFile, desiredState: DesiredState) async throws {
        try await createUnit(name, file: file, desiredState: desiredState, contentsStored: nil)
    }

    /// ``createUnit(_:file:desiredState:)`` for a caller that read whether the contents are
    /// stored itself (``hasUnitFile(_:)``, concurrently with its own reads); nil reads it here.
    public func createUnit(_ name: UnitName, file: UnitFile, desiredState: DesiredState,
                           contentsStored: Bool?) async throws {
        let hash = file.hash
        // Contents and desired state are independent writes: sent together, they share one
        // commit. The job object, which makes the unit exist for everyone, goes last.
        async let contents: Void = storeContents(file, hash: hash, stored: contentsStored)
        async let desired = store.set(keys.targetState(name), desiredState.rawValue)
        _ = try await (contents, desired)
        try await store.create(keys.jobObject(name), Self.encode(JobObject(name: name, hash: hash)))
    }

    /// Stores unit contents under their hash unless they are there already (instances of one
    /// template share them): a read is cheaper than a create the store has to refuse.
    private func storeContents(_ file: UnitFile, hash: UnitHash, stored: Bool? = nil) async throws {
        let present = if let stored { stored } else { try await hasUnitFile(hash) }
        if present { return }
        do {
            try await store.create(keys.unitFile(hash), file.normalizedText)
        } catch let error as StoreError where error.code == .nodeExists {
            // Stored meanwhile for another unit: content-addressed, so nothing to do.
        }
    }

    /// Replaces a unit's contents in place (fleetctl `--replace`), as fleet does: the unit keeps
    /// its placement, so the engine only updates its machine's assignment to the new contents
    /// and that machine's agent unloads the old file and loads (and, if launched, starts) the
    /// new one. Destroying and creating it instead would stop it, forget its machine and could
    /// start it elsewhere.
    ///
    /// Order matters: the contents first, so no reader sees a hash whose contents are missing;
    /// then the job object naming them; the desired state last, so a unit that `start
    /// --replace` takes from loaded to launched starts with its new contents, never the old.
    public func replaceUnit(_ name: UnitName, file: UnitFile, desiredState: DesiredState) async throws {
        let hash = file.hash
        try await storeContents(file, hash: hash)
        try await store.set(keys.jobObject(name), Self.encode(JobObject(name: name, hash: hash)))
        try await store.set(keys.targetState(name), desiredState.rawValue)
    }

    public func setDesiredState(_ name: UnitName, _ state: DesiredState) async throws {
        try await store.set(keys.targetState(name), state.rawValue, condition: .none)
    }

    /// Removes the unit from the registry; its agent stops and unloads it. False if it was not there.
    @discardableResult
    public func destroyUnit(_ name: UnitName) async throws -> Bool {
        guard try await store.getIfPresent(keys.job(name)) != nil else { return false }
        try await store.deleteIfPresent(keys.job(name))
        return true
    }

    public func unit(_ name: UnitName) async throws -> UnitRecord? {
        guard let node = try await store.getIfPresent(keys.job(name), recursive: true) else { return nil }
        return Self.unitRecord(from: node)
    }

    /// Every unit, sorted by name. Units whose records are incomplete (mid-write) are skipped.
    public func units() async throws -> [UnitRecord] {
        guard let root = try await store.getIfPresent(keys.jobs, recursive: true) else { return [] }
        let jobs = root.nodes ?? []
        let objects = decodedJobs.decodeAll(jobs.map { ($0.key, $0.child("object")?.value ?? "") }) {
            Self.decode(JobObject.self, $0)
        }
        return zip(jobs, objects).compactMap { Self.unitRecord(from: $0, object: $1) }.sorted { $0.name < $1.name }
    }

    static func unitRecord(from job: StoreNode) -> UnitRecord? {
        unitRecord(from: job, object: decode(JobObject.self, job.child("object")?.value))
    }

    /// The unit `job` holds, its object already decoded.
    static func unitRecord(from job: StoreNode, object: JobObject?) -> UnitRecord? {
        guard let object,
              let state = job.child("target-state")?.value.flatMap(DesiredState.init(rawValue:))
        else { return nil }
        return UnitRecord(name: object.name, hash: object.hash, desiredState: state,
                          target: job.child("target")?.value.map(MachineID.init),
                          unplaceableReason: job.child("unplaceable")?.value)
    }

    /// Whether the contents named `hash` are in the store.
    public func hasUnitFile(_ hash: UnitHash) async throws -> Bool {
        try await store.getIfPresent(keys.unitFile(hash)) != nil
    }

    public func unitFile(_ hash: UnitHash) async throws -> UnitFile? {
        guard let text = try await store.value(keys.unitFile(hash)) else { return nil }
        return try UnitFile(parsing: text)
    }
}

// MARK: Placement

extension Registry {
    /// Places `unit` on `machine` unless it is already placed somewhere (create-only).
    ///
    /// - Returns: the store index of the write.
    @discardableResult
    public func setTarget(_ unit: UnitName, _ machine: MachineID) async throws -> UInt64 {
        try await store.create(keys.target(unit), machine.rawValue).index
    }

    /// Takes `unit` off `machine`, but only if it is still placed there.
    public func clearTarget(_ unit: UnitName, from machine: MachineID) async throws {
        do {
            try await store.delete(keys.target(unit), condition: StoreCondition(prevValue: machine.rawValue))
        } catch let error as StoreError where error.code == .keyNotFound || error.code == .compareFailed {
        }
    }

    /// Records why `unit` cannot be placed, or clears it (nil).
    public func setUnplaceable(_ unit: UnitName, reason: String?) async throws {
        if let reason {
            try await store.set(keys.unplaceable(unit), reason)
        } else {
            try await store.deleteIfPresent(keys.unplaceable(unit), recursive: false)
        }
    }

    public func assignments(_ machine: MachineID) async throws -> [UnitName: Assignment] {
        guard let dir = try await store.getIfPresent(keys.schedule(machine), recursive: true) else { return [:] }
        return Self.assignments(from: dir)
    }

    /// All machines' assignments, one read.
    public func allAssignments() async throws -> [MachineID: [UnitName: Assignment]] {
        guard let root = try await store.getIfPresent(keys.schedules, recursive: true) else { return [:] }
        var result: [MachineID: [UnitName: Assignment]] = [:]
        for machineDir in root.nodes ?? [] {
            result[MachineID(StoreKey.basename(of: machineDir.key))] = Self.assignments(from: machineDir)
        }
        return result
    }

    static func assignments(from dir: StoreNode) -> [UnitName: Assignment] {
        var result: [UnitName: Assignment] = [:]
        for node in dir.nodes ?? [] {
            guard let name = try? UnitName(StoreKey.basename(of: node.key)),
                  let assignment = decode(Assignment.self, node.value) else { continue }
            result[name] = assignment
        }
        return result
    }

    /// - Returns: the store index of the write.
    @discardableResult
    public func setAssignment(_ machine: MachineID, _ unit: UnitName, _ assignment: Assignment) async throws -> UInt64 {
        try await store.set(keys.assignment(machine, unit), Self.encode(assignment)).index
    }

    public func removeAssignment(_ machine: MachineID, _ unit: UnitName) async throws {
        try await store.deleteIfPresent(keys.assignment(machine, unit), recursive: false)
    }
}

// MARK: Machines

extension Registry {
    /// Live machines (those whose presence key has not expired), sorted by ID.
    ///
    /// Each machine's metadata is the merged view the engine schedules on: the metadata its
    /// fleetd was configured with, overlaid by the dynamic keys `PATCH /fleet/v1/machines`
    /// wrote (``setMachineMetadata(_:key:value:)``), where an empty value removes the key.
    /// A machine directory holding only dynamic metadata (no presence) is not a machine.
    public func machines() async throws -> [MachineRecord] {
        guard let root = try await store.getIfPresent(keys.machines, recursive: true) else { return [] }
        return (root.nodes ?? []).compactMap { dir -> MachineRecord? in
            guard var record = Self.decode(MachineRecord.self, dir.child("object")?.value) else { return nil }
            record.metadata = Self.merged(record.metadata, dynamic: dir.child("metadata"))
            return record
        }
        .sorted { $0.id < $1.id }
    }

    /// Config metadata overlaid by the dynamic keys under `machines/<id>/metadata/`.
    static func merged(_ configured: [String: String], dynamic: StoreNode?) -> [String: String] {
        var result = configured
        for node in dynamic?.nodes ?? [] where !node.isDirectory {
            let key = StoreKey.basename(of: node.key)
            if let value = node.value, !value.isEmpty {
                result[key] = value
            } else {
                result[key] = nil
            }
        }
        return result
    }

    /// Sets one dynamic metadata key of a machine (fleet's `PATCH /machines`); an empty `value`
    /// is a tombstone that hides the key, even one from the machine's configuration.
    ///
    /// The key survives the machine leaving and rejoining; the machine need not be registered.
    /// - Throws: ``StoreError/Code/invalidKey`` when `key` or the machine ID cannot be a key segment.
    public func setMachineMetadata(_ id: MachineID, key: String, value: String) async throws {
        try await store.set(keys.machineMetadata(id, key), value)
    }

    public func publishMachine(_ record: MachineRecord, ttl: Int64) async throws {
        try await store.set(keys.machine(record.id), Self.encode(record), ttl: ttl)
    }

    public func removeMachine(_ id: MachineID) async throws {
        try await store.deleteIfPresent(keys.machine(id), recursive: false)
    }
}

// MARK: Unit states

extension Registry {
    /// Every published unit state, sorted by unit name then machine.
    public func states() async throws -> [UnitStateRecord] {
        guard let root = try await store.getIfPresent(keys.states, recursive: true) else { return [] }
        let texts = root.leaves.compactMap { leaf in leaf.value.map { (leaf.key, $0) } }
        return decodedStates.decodeAll(texts) { Self.decode(UnitStateRecord.self, $0) }.compactMap { $0 }
            .sorted { ($0.name, $0.machineID) < ($1.name, $1.machineID) }
    }

    public func publishState(_ record: UnitStateRecord, lifetime: KeyLifetime) async throws {
        try await store.set(keys.state(record.name, record.machineID), Self.encode(record), lifetime: lifetime)
    }

    /// How this machine's unit states and discovery records should live on this store: attached
    /// to its presence key where the store can, so staying alive costs one refresh per machine,
    /// not one per record; with their own TTL otherwise (an older fleetd holding the store).
    public func recordLifetime(for machine: MachineID, ttl: Int64) async -> KeyLifetime {
        await store.supportsAttachedKeys() ? .attached(to: keys.machine(machine)) : .ttl(ttl)
    }

    /// Extends a published state's TTL without rewriting it, when the store still holds exactly
    /// `record`: a refresh changes no value and wakes no watcher, where a full write would be
    /// a change every follower of the states hears of and every API cache rebuilds for.
    ///
    /// - Returns: false when the stored state is gone or differs from `record` (a change whose
    ///   write failed, or one made meanwhile); the caller then publishes `record` in full.
    public func refreshState(_ record: UnitStateRecord, ttl: Int64) async throws -> Bool {
        do {
            try await store.refresh(keys.state(record.name, record.machineID), ttl: ttl,
                                    condition: StoreCondition(prevValue: Self.encode(record)))
            return true
        } catch let error as StoreError where error.code == .compareFailed || error.code == .keyNotFound {
            return false
        }
    }

    public func removeState(_ unit: UnitName, _ machine: MachineID) async throws {
        try await store.deleteIfPresent(keys.state(unit, machine), recursive: false)
    }
}

// MARK: Engine lease

extension Registry {
    /// Tries to become (or stay) the engine leader for `ttl` seconds.
    ///
    /// A renewal comes first: it is what every call but a machine's first (or a takeover) does,
    /// so the holder and every machine that finds the lease held spend one store write, not a
    /// failed create and then the renewal.
    ///
    /// - Returns: this machine's term when it leads, nil when another machine does. A renewal
    ///   returns the same term; a lease that lapsed and was taken again returns a new one.
    public func acquireLease(_ machine: MachineID, ttl: Int64) async throws -> LeaseTerm? {
        do {
            let renewed = try await store.refresh(keys.engineLease, ttl: ttl,
                                                  condition: StoreCondition(prevValue: machine.rawValue))
            return LeaseTerm(machine: machine, createdIndex: renewed.node.createdIndex)
        } catch let error as StoreError where error.code == .compareFailed {
            return nil  // another machine's
        } catch let error as StoreError where error.code == .keyNotFound {
        }
        do {
            let created = try await store.create(keys.engineLease, machine.rawValue, ttl: ttl)
            return LeaseTerm(machine: machine, createdIndex: created.node.createdIndex)
        } catch let error as StoreError where error.code == .nodeExists {
            return nil  // another machine took it between the two writes
        }
    }

    /// Gives the lease up, if it is still `term`'s (a successor's lease is left alone).
    public func releaseLease(_ term: LeaseTerm) async throws {
        do {
            try await store.delete(keys.engineLease, condition: StoreCondition(guardedBy: leaseGuard(term)))
        } catch let error as StoreError where error.code == .guardFailed || error.code == .keyNotFound {
        }
    }

    public func leader() async throws -> MachineID? {
        try await store.value(keys.engineLease).map(MachineID.init)
    }

    /// This registry with every write fenced by `term`: each fails with
    /// ``StoreError/Code/guardFailed``, and changes nothing, once the lease is not `term`'s.
    public func fenced(by term: LeaseTerm) -> Registry {
        Registry(store: GuardedStore(store, guardedBy: leaseGuard(term)), keys: keys)
    }

    /// The lease key, still created at the term's index and still holding its machine.
    func leaseGuard(_ term: LeaseTerm) -> StoreGuard {
        StoreGuard(key: keys.engineLease, createdIndex: term.createdIndex, value: term.machine.rawValue)
    }
}
