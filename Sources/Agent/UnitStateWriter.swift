import FleetRegistry
import FleetStore
import FleetUnit
import Logging

/// What one of the ``StatePublisher``'s wishes writes to the store for a unit of this machine.
///
/// The state written is the one this machine has *when the write happens*, and a unit that is no
/// longer loaded here has none: whatever the wish, its state is deleted. That matters because a
/// newer wish replaces a queued one: systemd's signal for a unit being stopped is handled while
/// the unload forgets the unit, so a `publish` can take the place of the `remove` queued just
/// before it. Skipping the write of an unknown unit, as before, lost that removal, and the unit's
/// last state ("active") stayed in the store until its TTL (issue 16: up to 7 of 200 destroyed
/// units still listed active for seconds after systemd had stopped them).
struct UnitStateWriter: Sendable {
    let registry: Registry
    let local: LocalUnits
    let machine: MachineID
    let lifetime: RecordLifetime
    let logger: Logger
    /// What was last written per unit: a publish of the same record is skipped.
    let published = PublishedStates()
    /// Units whose last write failed: the first failure is a warning, the retries that follow
    /// are not (a store gone for 30 s would otherwise log ten warnings per unit).
    let failing = ConsecutiveFailures<UnitName>()

    /// Returns false when the write failed (the ``StatePublisher`` tries it again).
    @discardableResult
    func write(_ unit: UnitName, _ operation: StatePublisher.Operation) async -> Bool {
        do {
            try await store(unit, operation)
            if let failures = failing.recovered(unit) {
                logger.info("unit state written after failing", metadata: ["unit.name": "\(unit)", "agent.failed_writes": "\(failures)"])
            }
            return true
        } catch {
            let level: Logger.Level = failing.failed(unit) == 1 ? .warning : .debug
            logger.log(level: level, "writing unit state failed", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
            return false
        }
    }

    private func store(_ unit: UnitName, _ operation: StatePublisher.Operation) async throws {
        guard operation != .remove, let record = await local.stateRecord(unit) else {
            published.forget(unit)
            try await registry.removeState(unit, machine)
            return
        }
        let (lifetime, registration) = lifetime.currentWithRegistration
        let state = PublishedStates.Written(record: record, lifetime: lifetime, registration: registration)
        if operation == .refresh {
            // An attached state needs no refresh: it lives as long as the machine's presence.
            guard case let .ttl(ttl) = lifetime else { return }
            if try await registry.refreshState(record, ttl: ttl) { return }
        } else if published.isStored(unit, state) {
            return
        }
        published.forget(unit)
        try await registry.publishState(record, lifetime: lifetime)
        published.note(unit, state)
    }
}
