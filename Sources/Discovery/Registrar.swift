import FleetStore
import FleetUnit
import Foundation
import Logging

/// Keeps `/discovery/<service>/<instance>` true for the units running on this machine: a unit
/// that systemd reports active is registered (attached to the machine's presence; where the
/// store cannot attach, with the agent's TTL, refreshed without waking watchers), one that stops
/// is removed at once, and a failing health check takes an instance out of answers (the record
/// stays, marked unhealthy) until it passes again.
///
/// It lives with the records rather than in the agent so that discovery's writer and its
/// readers share one module; the agent only tells it what systemd reports, as a plain
/// active/inactive, so discovery does not link systemd.
public actor Registrar {
    struct Entry {
        var spec: DiscoverySpec
        var instance: ServiceInstance
        var active = false
        var since = Date()
        var healthy = true
        var registered = false
        var checker: Task<Void, Never>?
    }

    let store: any KeyValueStore
    let machineID: String
    let machineName: String
    let address: String
    /// How records live; the agent switches to ``KeyLifetime/attached(to:)`` once it knows the
    /// store can attach (``use(_:)``).
    private(set) var lifetime: KeyLifetime
    let keys: DiscoveryKeys
    let logger: Logger
    var entries: [UnitName: Entry] = [:]
    /// Record writes and withdrawals, by store key, off the caller's path: the agent tells of
    /// a unit's state change from its systemd signal loop, which must not wait a store round
    /// trip per unit. ``drain()`` waits for them.
    let writes: KeyedWriteQueue<String, RecordWrite>

    enum RecordWrite: Sendable {
        case set(String, KeyLifetime)
        case delete
    }

    /// - Parameters:
    ///   - address: the address this machine's instances are reached at (and health-checked on).
    ///   - ttl: seconds each record lives unless refreshed (``refreshAll()``).
    public init(store: any KeyValueStore, machineID: String, address: String, ttl: Int64,
                keys: DiscoveryKeys = .standard, logger: Logger) {
        self.store = store
        self.machineID = machineID
        self.machineName = String(machineID.prefix(8))
        self.address = address
        self.lifetime = .ttl(ttl)
        self.keys = keys
        self.logger = logger
        let failing = ConsecutiveFailures<String>()
        writes = KeyedWriteQueue { [store, logger] key, write in
            do {
                switch write {
                case let .set(value, lifetime): try await store.set(key, value, lifetime: lifetime)
                case .delete: try await store.deleteIfPresent(key, recursive: false)
                }
                if let failures = failing.recovered(key) {
                    logger.info("discovery record written after failing", metadata: ["store.key": "\(key)", "discovery.failed_writes": "\(failures)"])
                }
                return true
            } catch {
                let level: Logger.Level = failing.failed(key) == 1 ? .warning : .debug
                logger.log(level: level, "discovery write failed", metadata: ["store.key": "\(key)", "error": "\(error)"])
                return false
            }
        }
    }

    /// Returns once every record write and withdrawal asked for so far has been made.
    public func drain() async { await writes.drain() }

    /// Ends retries of failed writes and drops later ones: the agent stopped.
    public func close() async { await writes.close() }

    /// A unit was loaded here with these contents.
    public func loaded(_ unit: UnitName, file: UnitFile) async {
        let spec = DiscoverySpec(file: file)
        for problem in spec.problems {
            logger.warning("ignoring [X-Discovery] value", metadata: ["unit.name": "\(unit)", "problem": "\(problem)"])
        }
        let instance = ServiceInstance(unit: unit, service: spec.name, machineName: machineName)
        if let old = entries[unit], old.instance != instance || !spec.register {
            await forget(unit)
        }
        guard spec.register else { return }
        var entry = entries[unit] ?? Entry(spec: spec, instance: instance)
        entry.spec = spec
        entries[unit] = entry
    }

    /// systemd reported a new state for a unit of ours: `active` when its active state is `active`.
    public func systemdStateChanged(_ unit: UnitName, active: Bool) async {
        guard var entry = entries[unit] else { return }
        guard active != entry.active else { return }
        entry.active = active
        entry.since = Date()
        entry.healthy = entry.spec.check == .systemd || entry.spec.healthyAfter <= 1
        entry.checker?.cancel()
        entry.checker = nil
        entries[unit] = entry
        if active {
            await write(unit)
            startChecking(unit)
        } else {
            await remove(unit)
        }
    }

    /// The unit left this machine: withdraw its record (queued, like every write: ``drain()``).
    public func forget(_ unit: UnitName) async {
        guard let entry = entries.removeValue(forKey: unit) else { return }
        entry.checker?.cancel()
        if entry.registered { await writes.enqueue(keys.record(entry.instance), .delete) }
    }

    public func forgetAll() async {
        for unit in entries.keys { await forget(unit) }
    }

    /// Writes records with `lifetime` from now on.
    public func use(_ lifetime: KeyLifetime) {
        self.lifetime = lifetime
    }

    /// Writes every record again: after the machine registered anew, records attached to its
    /// old presence went with it.
    public func republishAll() async {
        for (unit, entry) in entries where entry.active { await write(unit) }
    }

    /// Keeps every record alive; re-creates any that expired (for example after a long store
    /// outage). Attached records need nothing: they live as long as the machine's presence.
    public func refreshAll() async {
        guard case let .ttl(ttl) = lifetime else { return }
        for (unit, entry) in entries where entry.registered {
            do {
                try await store.refresh(keys.record(entry.instance), ttl: ttl)
            } catch let error as StoreError where error.code == .keyNotFound {
                await write(unit)
            } catch {
                logger.debug("discovery refresh failed", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
            }
        }
    }

    func record(_ unit: UnitName, _ entry: Entry) -> DiscoveryRecord {
        DiscoveryRecord(service: entry.instance.service, instance: entry.instance.instance, unit: unit.rawValue,
                        machineID: machineID, machineName: machineName, address: address, ports: entry.spec.ports,
                        tags: entry.spec.tags, metadata: entry.spec.metadata, healthy: entry.healthy,
                        answerTTL: entry.spec.answerTTL, since: entry.since)
    }

    /// Queues the unit's record (``writes``). `registered` means a write was asked for, so a
    /// later withdrawal is queued even if that write has not been made yet (or failed: the
    /// delete of a missing key changes nothing).
    func write(_ unit: UnitName) async {
        guard let entry = entries[unit], entry.active else { return }
        entries[unit]?.registered = true
        await writes.enqueue(keys.record(entry.instance), .set(record(unit, entry).encoded(), lifetime))
        logger.debug("registered", metadata: ["unit.name": "\(unit)", "discovery.instance": "\(entry.instance)"])
    }

    func remove(_ unit: UnitName) async {
        guard let entry = entries[unit], entry.registered else { return }
        entries[unit]?.registered = false
        await writes.enqueue(keys.record(entry.instance), .delete)
    }

    // MARK: Health

    /// Runs the unit's health check while it is active. Unstructured on purpose: its lifetime is
    /// the unit's active period, which no caller's scope spans; it is cancelled on every state
    /// change and when the unit is forgotten.
    func startChecking(_ unit: UnitName) {
        guard let entry = entries[unit], entry.spec.check != .systemd else { return }
        let spec = entry.spec, address = address
        entries[unit]?.checker = Task { [weak self] in
            var passes = 0, failures = 0
            while !Task.isCancelled {
                let ok = await HealthCheck.run(spec, address: address)
                passes = ok ? passes + 1 : 0
                failures = ok ? 0 : failures + 1
                if passes == spec.healthyAfter { await self?.setHealthy(unit, true) }
                if failures == spec.unhealthyAfter { await self?.setHealthy(unit, false) }
                try? await Task.sleep(for: spec.checkPause)
            }
        }
    }

    func setHealthy(_ unit: UnitName, _ healthy: Bool) async {
        guard let entry = entries[unit], entry.active, entry.healthy != healthy else { return }
        entries[unit]?.healthy = healthy
        logger.info(healthy ? "instance healthy" : "instance unhealthy",
                    metadata: ["unit.name": "\(unit)", "discovery.instance": "\(entry.instance)"])
        await write(unit)
    }
}
