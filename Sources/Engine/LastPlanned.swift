import FleetRegistry
import Synchronization

/// What the engine's last completed pass planned from: the model's generation and the lease
/// term it held. A pass that threw records nothing, so its work is tried again.
final class LastPlanned: Sendable {
    private struct Planned {
        var generation: UInt64
        var term: LeaseTerm?
    }

    private let last = Mutex<Planned?>(nil)

    func record(_ generation: UInt64, _ term: LeaseTerm?) {
        last.withLock { $0 = Planned(generation: generation, term: term) }
    }

    func matches(_ generation: UInt64, _ term: LeaseTerm?) -> Bool {
        last.withLock { $0.map { $0.generation == generation && $0.term == term } ?? false }
    }
}
