import FleetStore
import Metrics
import NIOHTTP1
import Synchronization

/// Group commit for a ``RemoteStore``'s writes: while ``maxInFlight`` requests are on their way,
/// the writes that come in meanwhile wait, then go together as one `POST /v2/batch`
/// (``V2Batch``). A lone write is sent at once, as its own request; a waiting one waits a
/// round trip at most.
///
/// Used only with a server that says it takes batches (`X-Fleet-Store-Features` on any of its
/// replies, noted by ``noteFeatures(batches:)``); until then, and with etcd, every write is its own
/// request as before. Writes share a batch only when none writes a key another one writes or
/// reads (``V2Batch/Footprint``), so a batch means exactly what sending them one by one would.
/// TTL refreshes never come here: they keep their own pool of connections and go at once.
final class RemoteWriteBatcher: Sendable {
    /// One write, as the lone request it would be.
    struct Write: Sendable {
        var method: HTTPMethod
        var key: String
        var query: [String: String]
        var form: [String: String]?
        /// Must come back confirmed by `X-Fleet-Guard-Checked` when sent alone.
        var guarded: Bool
        /// Must come back confirmed by `X-Fleet-Owner-Checked` when sent alone.
        var attached: Bool

        /// Keys as the server reads them (normalized), or a conflict it sees would be missed
        /// here and the batch refused.
        var footprint: V2Batch.Footprint {
            V2Batch.Footprint(key: key, guardKey: query["guardKey"], owner: query["owner"])
        }

        var batched: V2Batch.Write {
            let query = RemoteStore.formEncode(query)
            return V2Batch.Write(method: method.rawValue, key: key, query: query.isEmpty ? nil : query,
                                 form: form.map(RemoteStore.formEncode))
        }
    }

    struct Waiter: Sendable {
        var write: Write
        var footprint: V2Batch.Footprint
        var continuation: CheckedContinuation<Turn, Never>
    }

    /// What a waiting write is told: its answer, or that it sends this batch (itself first),
    /// holding one of the ``maxInFlight`` places until it hands over.
    enum Turn: Sendable {
        case answered(Result<StoreEvent, any Error>)
        case send([Waiter])
    }

    struct State {
        /// nil until a reply of the server's has been seen.
        var serverBatches: Bool?
        /// The server answered a batch as an unknown route: its replies' header is not believed
        /// again (this store's writes go one by one from then on).
        var refused = false
        var inFlight = 0
        var queue: [Waiter] = []
        /// Requests sent with more than one write (diagnostics and tests).
        var batchedRequests = 0

        /// The oldest waiters that fit together in one batch, taken off the queue (the oldest
        /// always), stopping at `limit`.
        mutating func takeBatch(limit: Int) -> [Waiter] {
            var batch: [Waiter] = [], rest: [Waiter] = []
            for (position, waiter) in queue.enumerated() {
                if batch.count == limit {
                    rest += queue[position...]
                    break
                }
                if batch.isEmpty || !batch.contains(where: { $0.footprint.overlaps(waiter.footprint) }) {
                    batch.append(waiter)
                } else {
                    rest.append(waiter)
                }
            }
            queue = rest
            return batch
        }
    }

    /// Requests on their way at once before further writes wait to be batched. Two keep both of
    /// the server's cores busy (one batch is applied while the next is on the wire).
    let maxInFlight: Int
    /// The most writes in one batch (the server takes up to ``V2Batch/maxWrites``).
    let maxBatch: Int
    private let state = Mutex(State())

    init(maxInFlight: Int = 2, maxBatch: Int = 64) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxBatch = min(max(1, maxBatch), V2Batch.maxWrites)
    }

    /// Whether writes are batched now (the server said it takes batches).
    var batching: Bool { state.withLock { $0.serverBatches == true } }

    /// Requests sent so far that carried more than one write.
    var batchedRequests: Int { state.withLock { $0.batchedRequests } }

    /// Whether a successful reply's `X-Fleet-Store-Features` said the server takes batches
    /// (etcd's replies never do). A server can change (a fleetd replaced by an older one), so
    /// every reply counts.
    func noteFeatures(batches: Bool) {
        state.withLock { state in
            if state.serverBatches != batches && !state.refused { state.serverBatches = batches }
        }
    }

    /// The server answered a batch as a route it does not have (404, 405): batching stops for
    /// good, whatever its replies say after (a proxy in front of a newer fleetd, a mixed cluster).
    func noteRefused() {
        state.withLock { state in
            state.refused = true
            state.serverBatches = false
        }
    }

    /// Sends `write` through `store`, alone or in a batch with others.
    func submit(_ write: Write, through store: RemoteStore) async throws -> StoreEvent {
        // Not batching: sent alone, as many at once as callers send, as before batches.
        guard batching else { return try await store.sendBatch([write])[0].get() }
        let footprint = write.footprint
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let batch = state.withLock { state -> [Waiter]? in
                state.queue.append(Waiter(write: write, footprint: footprint, continuation: continuation))
                guard state.inFlight < maxInFlight else { return nil }
                state.inFlight += 1
                return state.takeBatch(limit: maxBatch)
            }
            if let batch { continuation.resume(returning: .send(batch)) }
        }
        switch turn {
        case .answered(let result):
            return try result.get()
        case let .send(batch):
            if batch.count > 1 { countBatch(of: batch.count) }
            let writes = batch.map(\.write)
            // The batch's other writers wait on this send: it must not end with this task's
            // cancellation (each request is bounded by the store's request timeout).
            let results = batch.count > 1 ? await Task { await store.sendBatch(writes) }.value
                : await store.sendBatch(writes)
            for (waiter, result) in zip(batch, results).dropFirst() {
                waiter.continuation.resume(returning: .answered(result))
            }
            handOver()
            return try results[0].get()
        }
    }

    /// Counts a batch here and in the process's metrics (fleetd's `/metrics`). The counters are
    /// looked up when used: a store is made before fleetd sets up its metrics.
    private func countBatch(of writes: Int) {
        state.withLock { $0.batchedRequests += 1 }
        Counter(label: "fleet_store_write_batches_total").increment()
        Counter(label: "fleet_store_batched_writes_total").increment(by: writes)
    }

    /// After a batched send: the next batch goes to its first waiter to send, or one fewer is
    /// in flight.
    private func handOver() {
        let next = state.withLock { state -> [Waiter]? in
            guard !state.queue.isEmpty else {
                state.inFlight -= 1
                return nil
            }
            return state.takeBatch(limit: maxBatch)
        }
        if let next, let first = next.first { first.continuation.resume(returning: .send(next)) }
    }
}
