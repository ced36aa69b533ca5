import FleetRegistry
import FleetStore
import FleetUnit
import Synchronization

/// The unit states this agent last wrote, so a wish that would write the same record again is
/// skipped.
///
/// systemd signals a start in steps (`activating`, then `active`), each a wish; when the first
/// wish's write already reads the final state, the second wrote the same record again: on etcd
/// a raft write and a watch event for every engine, for nothing (issue 16 item 2). Only states attached to the presence are skipped: they live exactly
/// as long as the presence of the registration they were written under, and a new registration
/// writes everything again. A state with a TTL of its own may have expired, so it is written.
final class PublishedStates: Sendable {
    struct Written: Equatable {
        var record: UnitStateRecord
        var lifetime: KeyLifetime
        var registration: UInt64
    }

    private let written = Mutex<[UnitName: Written]>([:])

    /// Whether `state` is what the store already holds for `unit`, as far as this agent knows.
    func isStored(_ unit: UnitName, _ state: Written) -> Bool {
        guard case .attached = state.lifetime else { return false }
        return written.withLock { $0[unit] == state }
    }

    /// `state` was written for `unit`.
    func note(_ unit: UnitName, _ state: Written) {
        written.withLock { $0[unit] = state }
    }

    /// The store's state for `unit` is unknown (deleted, or a write failed).
    func forget(_ unit: UnitName) {
        _ = written.withLock { $0.removeValue(forKey: unit) }
    }
}
