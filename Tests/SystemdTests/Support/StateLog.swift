import FleetSystemd

/// Records everything a manager puts on its state stream, so a test can wait for a change
/// with a deadline instead of sleeping.
///
/// The stream has one consumer (this log's task); waiters look at what it recorded. Each
/// unit has its own read position: ``next(_:within:where:)`` consumes up to the match.
actor StateLog {
    typealias Change = (unit: String, state: SystemdUnitState)

    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    private struct Waiter {
        let unit: String
        let predicate: @Sendable (SystemdUnitState) -> Bool
        let continuation: CheckedContinuation<SystemdUnitState?, Never>
    }

    private var changes: [Change] = []
    private var readPositions: [String: Int] = [:]
    private var waiters: [Int: Waiter] = [:]
    private var finishWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    private var nextWaiterID = 0
    private(set) var isFinished = false

    /// Starts consuming `stream` until it finishes.
    static func recording(_ stream: AsyncStream<Change>) -> StateLog {
        let log = StateLog()
        Task {
            for await change in stream { await log.append(change) }
            await log.finish()
        }
        return log
    }

    /// Every state recorded for `unit`, oldest first.
    func states(of unit: String) -> [SystemdUnitState] {
        changes.filter { $0.unit == unit }.map(\.state)
    }

    /// The next recorded state of `unit` that satisfies `predicate`, waiting up to `timeout`.
    ///
    /// - Throws: ``Timeout`` listing what was seen, if no such state arrives in time.
    func next(
        _ unit: String, within timeout: Duration = .seconds(10),
        where predicate: @escaping @Sendable (SystemdUnitState) -> Bool
    ) async throws -> SystemdUnitState {
        if let hit = take(unit, predicate) { return hit }
        if !isFinished {
            let id = newWaiterID()
            let deadline = Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
            defer { deadline.cancel() }
            let found = await withCheckedContinuation { continuation in
                waiters[id] = Waiter(unit: unit, predicate: predicate, continuation: continuation)
            }
            if let found { return found }
        }
        let seen = states(of: unit).map(\.description).joined(separator: ", ")
        throw Timeout(
            description: "no matching state of \(unit) within \(timeout)"
                + (isFinished ? " (stream finished)" : "") + "; saw: [\(seen)]")
    }

    /// Waits until the stream finishes; false if it is still open after `timeout`.
    func waitUntilFinished(within timeout: Duration = .seconds(10)) async -> Bool {
        if isFinished { return true }
        let id = newWaiterID()
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            self.expire(id)
        }
        defer { deadline.cancel() }
        return await withCheckedContinuation { finishWaiters[id] = $0 }
    }

    private func newWaiterID() -> Int {
        defer { nextWaiterID += 1 }
        return nextWaiterID
    }

    private func take(_ unit: String, _ predicate: (SystemdUnitState) -> Bool) -> SystemdUnitState? {
        let start = readPositions[unit, default: 0]
        guard start < changes.count,
            let index = changes[start...].firstIndex(where: { $0.unit == unit && predicate($0.state) })
        else { return nil }
        readPositions[unit] = index + 1
        return changes[index].state
    }

    private func append(_ change: Change) {
        changes.append(change)
        for (id, waiter) in waiters where waiter.unit == change.unit {
            if let hit = take(waiter.unit, waiter.predicate) {
                waiters[id] = nil
                waiter.continuation.resume(returning: hit)
            }
        }
    }

    private func finish() {
        isFinished = true
        for waiter in waiters.values { waiter.continuation.resume(returning: nil) }
        waiters.removeAll()
        for waiter in finishWaiters.values { waiter.resume(returning: true) }
        finishWaiters.removeAll()
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume(returning: nil)
        finishWaiters.removeValue(forKey: id)?.resume(returning: false)
    }
}
