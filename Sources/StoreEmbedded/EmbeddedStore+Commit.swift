import FleetStore
import Foundation

extension EmbeddedStore {
    /// Hands the changes ``working`` journaled since the last call to the writer thread.
    ///
    /// Synchronous on purpose: commits reach the writer in the order the actor decided them,
    /// which is the order of their indexes.
    /// - Returns: the ticket to await, or nil when there was nothing to write.
    @discardableResult
    func submit(events: [StoreEvent]) -> StorePromise<Void>? {
        let changes = working.takeChanges()
        guard !changes.isEmpty else { return nil }
        let commit = EmbeddedCommit(generation: generation, changes: changes, index: working.index,
                                    events: events, ticket: StorePromise())
        inFlight.append(commit)
        writer.submit(commit)
        return commit.ticket
    }

    /// Expires due keys in ``working`` and submits the result as one commit.
    @discardableResult
    func submitExpiries(at time: Date) -> StorePromise<Void>? {
        let events = working.expireDueKeys(at: time)
        return submit(events: events)
    }

    /// Waits for `ticket`, brings ``committed`` up to date, and rethrows the ticket's failure.
    func settle(_ ticket: StorePromise<Void>?) async throws {
        guard let ticket else { return }
        let result = await ticket.result()
        drainCompleted()
        if case var .failure(error as StoreError) = result {
            error.index = committed.index
            throw error
        }
        try result.get()
    }

    /// Waits until everything submitted so far has committed or failed.
    func settleInFlight() async {
        guard let last = inFlight.last else { return }
        _ = await last.ticket.result()
        drainCompleted()
    }

    /// Replays and publishes every commit whose ticket is complete, oldest first.
    ///
    /// The writer completes tickets in submission order, so the completed ones are a prefix of
    /// ``inFlight``. Whichever waiter gets back onto the actor first does the work for the whole
    /// batch, which keeps events in index order however the waiters are scheduled.
    func drainCompleted() {
        var done = 0
        for commit in inFlight {
            guard let result = commit.ticket.currentResult else { break }
            done += 1
            switch result {
            case .success:
                committed.replay(commit.changes, index: commit.index)
                for event in commit.events { publish(event) }
            case .failure:
                // The first failure of this generation: everything decided after it rests on
                // writes that are not on disk. Start again from what is; the writer fails the
                // rest of the old generation without running it.
                if commit.generation == generation {
                    generation += 1
                    working = committed
                }
            }
        }
        inFlight.removeFirst(done)
    }
}
