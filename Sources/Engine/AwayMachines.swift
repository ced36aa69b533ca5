import FleetRegistry
import Synchronization

/// Machines whose presence vanished, and since when this engine has seen them gone.
///
/// A machine is *away* for ``grace`` after the engine first saw it missing: the scheduler keeps
/// its global units and the units no live machine can take assigned to it (``Scheduler``), so
/// that a machine back from an outage longer than the TTL restarts nothing. Moving those units
/// would gain nothing (there is nowhere else to run them) and would cost a stop and a start on
/// return. After the grace the machine counts as dead, and its assignments go as before.
///
/// The times are this engine's own: a new leader starts the grace when it first sees the
/// machine missing, which can only lengthen it. An entry is dropped once the machine is live
/// again or nothing in the registry names it any more.
final class AwayMachines: Sendable {
    let grace: Duration
    private let since = Mutex<[MachineID: ContinuousClock.Instant]>([:])

    init(grace: Duration) {
        self.grace = grace
    }

    /// True when no machine is being timed: a pass then depends on nothing but the registry.
    var isEmpty: Bool { since.withLock { $0.isEmpty } }

    /// The machines away at `now`, given the live ones and those the registry still names
    /// (assignment directories, unit targets).
    func update(live: Set<MachineID>, named: Set<MachineID>, now: ContinuousClock.Instant) -> Set<MachineID> {
        since.withLock { since in
            since = since.filter { named.contains($0.key) && !live.contains($0.key) }
            var away: Set<MachineID> = []
            for machine in named.subtracting(live) {
                let gone = since[machine] ?? now
                since[machine] = gone
                if now - gone < grace { away.insert(machine) }
            }
            return away
        }
    }
}
