import FleetUnit

/// Writes this machine's unit states to the store, off the agent's critical path.
///
/// Work is queued per unit, and only the newest wish for a unit counts: a unit that goes
/// `activating` and `active` while a batch is being written is published once, as `active`.
/// A batch holds each unit once and is written concurrently; batches run one after another, so
/// what is done for one unit stays in order (a removal is never overtaken by an older publish).
actor StatePublisher {
    enum Operation: Sendable {
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

    typealias Writer = @Sendable (UnitName, Operation) async -> Void

    private let write: Writer
    private let concurrency: Int
    private var pending: [UnitName: Operation] = [:]
    private var order: [UnitName] = []
    private var working = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    init(concurrency: Int = 16, write: @escaping Writer) {
        self.concurrency = concurrency
        self.write = write
    }

    func enqueue(_ unit: UnitName, _ operation: Operation) {
        if pending[unit] != nil, operation == .refresh { return }
        if pending.updateValue(operation, forKey: unit) == nil { order.append(unit) }
        guard !working else { return }
        working = true
        Task { await run() }
    }

    /// Returns once everything queued so far (and anything queued meanwhile) is written.
    func drain() async {
        guard working else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    private func run() async {
        while !order.isEmpty {
            let batch = order.map { ($0, pending[$0]!) }
            order = []
            pending = [:]
            let write = self.write, limit = concurrency
            await withTaskGroup(of: Void.self) { group in
                var next = batch.makeIterator()
                for _ in 0..<limit {
                    guard let (unit, operation) = next.next() else { break }
                    group.addTask { await write(unit, operation) }
                }
                while await group.next() != nil {
                    if let (unit, operation) = next.next() { group.addTask { await write(unit, operation) } }
                }
            }
        }
        working = false
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
