import FleetStore
import Foundation
import Synchronization

/// Group commit for write txns: while one is on its way to etcd, the writes that come in
/// meanwhile wait and then go together as one txn of nested txns (etcd 3.3+), each keeping its
/// own compares, branches and answer.
///
/// A start of 200 units is some 1,500 small writes from three fleetds, and on etcd each cost a
/// JSON request through the gateway, a raft entry and a watch message per watcher; batched they
/// cost one each per batch. A lone write is sent at once; one that comes while ``maxInFlight``
/// txns are out waits for one of them to be answered (a round trip at most) and goes with
/// everything else that came meanwhile.
///
/// etcd evaluates every compare of a txn, nested ones included, before it applies any op. So
/// writes share a batch only when none writes a key that another one's compares or reads look
/// at (its ancestors, its subtree, a guard or owner key) or writes too: the batch then means
/// exactly what sending them one after another would.
///
/// A write that would go alone during a burst waits a moment (``linger``) for others to join it.
///
/// Reads go through a batcher of their own (``EtcdStore/readBatcher``): a batch of read-only
/// txns is read-only, served by one linearizable read without a raft entry, while one write
/// among them would put every read of the batch through raft.
final class EtcdTxnBatcher: Sendable {
    typealias Answer = (response: EtcdTxnResponse, mayHaveRunBefore: Bool)

    /// One waiting write: its txn, what it touches, and where its answer (or its turn to send a
    /// batch) goes.
    struct Waiter: Sendable {
        var request: EtcdTxnRequest
        var footprint: Footprint
        var continuation: CheckedContinuation<Turn, Never>
    }

    /// What a waiting write is told: its answer, or that it sends this batch (itself first).
    enum Turn: Sendable {
        case answered(Result<Answer, any Error>)
        case send([Waiter])
        /// Nothing was queued or in flight: this write leads the next batch.
        case lead
    }

    /// The keys a txn writes and the keys and ranges it reads (compares and range ops), as byte
    /// arrays (compared often: every pair of writes considered for a batch).
    struct Footprint: Sendable {
        var writes: [[UInt8]] = []
        var reads: [(key: [UInt8], end: [UInt8]?)] = []
        /// Bytes of keys and values, roughly the txn's size on the wire.
        var bytes = 0
        /// What etcd counts against `--max-txn-ops` for this txn inside a batch: the longest of
        /// its compares, success and failure ops.
        var ops = 0

        /// nil when the txn writes a range (a directory delete): those are sent alone.
        init?(_ request: EtcdTxnRequest) {
            ops = max(request.compare.count, request.success.count, request.failure.count)
            for compare in request.compare {
                reads.append((Array(compare.key), compare.rangeEnd.map(Array.init)))
                bytes += compare.key.count + (compare.value?.count ?? 0)
            }
            for op in request.success + request.failure {
                if let put = op.put {
                    writes.append(Array(put.key))
                    bytes += put.key.count + (put.value?.count ?? 0)
                } else if let delete = op.deleteRange {
                    guard delete.rangeEnd == nil else { return nil }
                    writes.append(Array(delete.key))
                } else if let range = op.range {
                    reads.append((Array(range.key), range.rangeEnd.map(Array.init)))
                } else {
                    return nil
                }
            }
        }

        /// Whether the two could see each other's writes, so must not share a txn.
        func overlaps(_ other: Footprint) -> Bool {
            other.writes.contains { touches($0) } || writes.contains { other.touches($0) }
        }

        /// Whether this txn writes or reads `key`.
        func touches(_ key: [UInt8]) -> Bool {
            writes.contains(key) || reads.contains { read in
                guard let end = read.end else { return read.key == key }
                // etcd's "\0" range end means every key from `key` on.
                return !key.lexicographicallyPrecedes(read.key) && (end == [0] || key.lexicographicallyPrecedes(end))
            }
        }
    }

    struct State {
        /// Whether `count` txns, the longest of whose lists holds `ops`, may go as one batch:
        /// the batch's list of `count` nested txns leaves each of them `maxTxnOps - count`.
        static func fits(count: Int, ops: Int) -> Bool { count + ops <= EtcdTxnBatcher.maxTxnOps }

        var inFlight = 0
        var queue: [Waiter] = []
        /// When a batch last went out or was answered (``isBusy(lastActive:now:window:)``).
        var lastActive: ContinuousClock.Instant?

        /// The oldest waiters that fit together in one batch, taken off the queue (the oldest
        /// always, however big), stopping at `limit`.
        mutating func takeBatch(limit: Int, bytes: Int) -> [Waiter] {
            takeBatch(joining: nil, limit: limit, bytes: bytes)
        }

        /// The waiters that fit in one batch with a write that is not queued (`leader`, sent
        /// first), or the oldest ones when there is none.
        mutating func takeBatch(joining leader: Footprint?, limit: Int, bytes: Int) -> [Waiter] {
            var batch: [Waiter] = [], rest: [Waiter] = []
            var taken = leader.map { [$0] } ?? []
            var size = leader?.bytes ?? 0, ops = leader?.ops ?? 0
            for (index, waiter) in queue.enumerated() {
                if taken.count == limit {
                    rest += queue[index...]
                    break
                }
                let footprint = waiter.footprint
                if taken.isEmpty || (size + footprint.bytes <= bytes
                    && Self.fits(count: taken.count + 1, ops: max(ops, footprint.ops))
                    && !taken.contains(where: { $0.overlaps(footprint) }))
                {
                    batch.append(waiter)
                    taken.append(footprint)
                    size += footprint.bytes
                    ops = max(ops, footprint.ops)
                } else {
                    rest.append(waiter)
                }
            }
            queue = rest
            return batch
        }
    }

    /// etcd's `--max-txn-ops` default: no list of a txn may be longer, and a nested txn's lists
    /// may be no longer than what its parent's longest list leaves.
    static let maxTxnOps = 128

    let gateway: EtcdGateway
    /// Txns on their way at once before further writes wait to be batched. One: over gRPC a
    /// request costs the member little and a raft entry (apply, watch events, WAL) is what
    /// counts, so the fewer and larger the batches the better; a start of 200 units on etcd took
    /// 1,528 ms (median of 18) with one against 1,652 ms with four (docs/benchmarks.md).
    let maxInFlight: Int
    /// The most writes in one batch. etcd refuses a txn of more than 128 ops (`--max-txn-ops`),
    /// nested ones counting against what their parent leaves, so a batch also stops where its
    /// writes' own lists would not fit (``State/fits(count:ops:)``): fleet's writes have a
    /// dozen ops or fewer, a write to a key 64 levels deep some 70.
    let maxBatch: Int
    /// The most key and value bytes in one batch, well below etcd's 1.5 MiB request limit.
    static let maxBatchBytes = 256 << 10
    /// How long a write that finds nothing queued or in flight waits for others to join it, when
    /// the store is busy (``isBusy(lastActive:now:window:)``); zero sends it at once. A write after a
    /// quiet spell always goes at once.
    ///
    /// In a burst, writes come in pairs and trickles: a unit that becomes active has its state and
    /// its discovery record written by two tasks a moment apart, and units become active one by
    /// one. Each lone write was a raft entry of its own, and on etcd the entries, more than the
    /// writes in them, are what costs: in a start of 200 units, 2 ms cut the entries from 150-290
    /// to 130-180 and the members' CPU by a sixth (docs/benchmarks.md).
    let linger: Duration
    /// How recently a batch must have gone out or been answered for the store to count as busy.
    let busyWindow: Duration
    private let state = Mutex(State())

    init(gateway: EtcdGateway, maxInFlight: Int = 1, maxBatch: Int = 64, linger: Duration = .zero,
         busyWindow: Duration = .milliseconds(20)) {
        self.gateway = gateway
        self.maxInFlight = max(1, maxInFlight)
        self.maxBatch = min(max(1, maxBatch), Self.maxTxnOps / 2)
        self.linger = max(.zero, linger)
        self.busyWindow = busyWindow
    }

    /// Sends `request` (alone, or batched with others), as ``EtcdGateway/call(_:_:as:)`` would.
    func submit(_ request: EtcdTxnRequest) async throws -> Answer {
        guard let footprint = Footprint(request) else {
            return try await gateway.call("/v3/kv/txn", request, as: EtcdTxnResponse.self)
        }
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let leads = state.withLock { state -> Bool in
                // Nothing waits while fewer than maxInFlight are out.
                guard state.inFlight < maxInFlight else {
                    state.queue.append(Waiter(request: request, footprint: footprint, continuation: continuation))
                    return false
                }
                state.inFlight += 1
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .answered(let result):
            return try result.get()
        case .send(let batch):
            return try await send(batch.map(\.request), answering: batch.dropFirst())
        case .lead:
            // Tasks already running or ready go first: the other half of a pair made together
            // (a listing reads the units and their states with two `async let`s) joins.
            await Task.yield()
            let lastActive = state.withLock { $0.lastActive }
            if linger > .zero, Self.isBusy(lastActive: lastActive, now: .now, window: busyWindow) {
                // Cancelled, it goes at once: the wait only gathers company.
                try? await Task.sleep(for: linger)
            }
            let joining = state.withLock { $0.takeBatch(joining: footprint, limit: maxBatch, bytes: Self.maxBatchBytes) }
            return try await send([request] + joining.map(\.request), answering: joining[...])
        }
    }

    /// Whether a write that would go alone is in a burst: a batch went out or was answered
    /// within `window` (``busyWindow``).
    static func isBusy(lastActive: ContinuousClock.Instant?, now: ContinuousClock.Instant, window: Duration) -> Bool {
        guard let lastActive else { return false }
        return now - lastActive < window
    }

    /// Sends `requests` as one batch: the first is the caller's, answered by the return; the
    /// rest are `waiters`' in order.
    private func send(_ requests: [EtcdTxnRequest], answering waiters: ArraySlice<Waiter>) async throws -> Answer {
        state.withLock { $0.lastActive = .now }
        // The batch's other writers wait on this send: it must not end with this task's
        // cancellation (it is bounded by the request timeout).
        let results = await Task { await self.send(requests) }.value
        // Timed from the answer too: a burst's next write comes after it, however slow the round trip.
        state.withLock { $0.lastActive = .now }
        for (waiter, result) in zip(waiters, results.dropFirst()) {
            waiter.continuation.resume(returning: .answered(result))
        }
        handOver()
        return try results[0].get()
    }

    /// After a send: the next batch goes to its first waiter to send, or one fewer is in flight.
    private func handOver() {
        let next = state.withLock { state -> [Waiter]? in
            guard !state.queue.isEmpty else {
                state.inFlight -= 1
                return nil
            }
            return state.takeBatch(limit: maxBatch, bytes: Self.maxBatchBytes)
        }
        if let next, let first = next.first { first.continuation.resume(returning: .send(next)) }
    }

    /// One write is sent as it is; several as one txn whose success branch holds their txns.
    ///
    /// etcd refuses a whole txn for one op it cannot do (a put on a lease that has just run
    /// out), so after a definite refusal each write is sent again alone and gets its own answer.
    /// When no member answered, every write of the batch fails as a lone one would have.
    func send(_ batch: [EtcdTxnRequest]) async -> [Result<Answer, any Error>] {
        if batch.count == 1 { return [await sendAlone(batch[0])] }
        let outer = EtcdTxnRequest(compare: [], success: batch.map { .txn($0) }, failure: [])
        do {
            let (response, mayHaveRunBefore) = try await gateway.call("/v3/kv/txn", outer, as: EtcdTxnResponse.self)
            let inner = response.responses ?? []
            return batch.indices.map { index in
                guard index < inner.count, var answer = inner[index].txn else {
                    return .failure(StoreError(.unavailable, "etcd: a batched txn's answer lacks write \(index + 1) of \(batch.count)",
                                               index: UInt64(max(0, response.revision))))
                }
                answer.header = response.header
                return .success((answer, mayHaveRunBefore))
            }
        } catch let error as StoreError where error.code != .unavailable {
            return await withTaskGroup(of: (Int, Result<Answer, any Error>).self) { group in
                for (index, request) in batch.enumerated() {
                    group.addTask { (index, await self.sendAlone(request)) }
                }
                var results = [Result<Answer, any Error>](repeating: .failure(error), count: batch.count)
                for await (index, result) in group { results[index] = result }
                return results
            }
        } catch {
            return batch.map { _ in .failure(error) }
        }
    }

    private func sendAlone(_ request: EtcdTxnRequest) async -> Result<Answer, any Error> {
        do {
            return .success(try await gateway.call("/v3/kv/txn", request, as: EtcdTxnResponse.self))
        } catch {
            return .failure(error)
        }
    }
}
