import FleetStore
import FleetUnit

/// Writes this machine's unit states to the store, off the agent's critical path: a
/// ``KeyedWriteQueue`` per unit, so a unit that goes `activating` and `active` while a batch is
/// being written is published once, as `active`, and a removal is never overtaken by an older
/// publish.
struct StatePublisher: Sendable {
    enum Operation: Sendable, Equatable {
        /// Write the unit's current state record (read when the write happens; a unit no longer
        /// loaded here has none, so its state is deleted: see ``UnitStateWriter``).
        case publish
        /// Delete the unit's state (it was unloaded here).
        case remove
        /// Keep the unit's state alive: extend its TTL if the store holds the current record,
        /// write it in full otherwise. Never replaces a wish already queued for the unit (that
        /// one writes the state anyway, or removes it).
        case refresh
    }

    /// Writes a wish; false when it failed, and the wish is tried again after a back-off
    /// (``WriteRetryPolicy``) unless a newer one for the unit comes first.
    typealias Writer = @Sendable (UnitName, Operation) async -> Bool

    private let queue: KeyedWriteQueue<UnitName, Operation>

    init(concurrency: Int = 16, retry: WriteRetryPolicy = .standard,
         write: @escaping Writer) {
        queue = KeyedWriteQueue(concurrency: concurrency, retry: retry, keepsQueued: { _, new in new == .refresh }, work: write)
    }

    func enqueue(_ unit: UnitName, _ operation: Operation) async { await queue.enqueue(unit, operation) }

    /// Returns once everything queued so far (and anything queued meanwhile) is written.
    func drain() async { await queue.drain() }

    /// Ends retries and drops later wishes: the agent stopped.
    func close() async { await queue.close() }
}
