import Synchronization

/// One iterator's follow: load a snapshot, watch, and make the watch anew after an error, a
/// compacted history or a silence (the rules are on ``StoreFollower``).
struct FollowLoop<Snapshot: Sendable>: Sendable {
    typealias Output = AsyncStream<StoreFollowEvent<Snapshot>>.Continuation

    let follower: StoreFollower<Snapshot>
    let output: Output

    /// How one watch ended.
    enum Outcome: Sendable {
        /// Nothing came for `maxSilence`.
        case silent
        /// The stream finished without an error (the store or its server shut it).
        case ended
        /// The consumer is `maxPendingEvents` behind; an event was not delivered.
        case consumerBehind
        case failed(any Error)
    }

    /// What survives from one watch to the next.
    struct State {
        /// The first index not yet delivered; nil until a snapshot is delivered.
        var next: UInt64?
        var failures = 0
        /// Reloads for `indexCleared` with no event delivered in between: past the first, each
        /// waits as a failure would, so a store that keeps answering so is not asked in a tight loop.
        var clearedInARow = 0
        /// A failure was reported (``StoreFollowEvent/lost(_:)``) and nothing worked since.
        var lost = false
        var loads = 0
    }

    /// What one watch's reader shares with its silence check.
    final class Progress: Sendable {
        private let state: Mutex<(next: UInt64, lastHeard: ContinuousClock.Instant, delivered: Bool)>

        init(next: UInt64) {
            state = Mutex((next, ContinuousClock.now, false))
        }

        var next: UInt64 { state.withLock { $0.next } }
        var lastHeard: ContinuousClock.Instant { state.withLock { $0.lastHeard } }
        var delivered: Bool { state.withLock { $0.delivered } }

        func heard() { state.withLock { $0.lastHeard = .now } }

        func delivered(_ index: UInt64) {
            state.withLock { $0.next = max($0.next, FollowLoop.after(index)); $0.delivered = true }
        }
    }

    var options: StoreFollowOptions { follower.options }

    func run() async {
        var state = State()
        while !Task.isCancelled {
            if state.next == nil {
                do {
                    try await loadSnapshot(&state)
                } catch {
                    if Task.isCancelled { break }
                    await failed(error, &state)
                    continue
                }
                guard state.next != nil else {  // the consumer had no room for it
                    await pause(options.retryDelay(afterFailures: 1))
                    continue
                }
            }
            let outcome = await watchOnce(&state)
            if Task.isCancelled { break }
            switch outcome {
            case .silent:
                options.counters?.silenced()
            case .consumerBehind:
                state.next = nil
                await pause(options.retryDelay(afterFailures: 1))
            case .failed(let error as StoreError) where error.code == .indexCleared:
                state.next = nil
                state.clearedInARow += 1
                if state.clearedInARow > 1 { await pause(options.retryDelay(afterFailures: state.clearedInARow - 1)) }
            case .failed(let error):
                await failed(error, &state)
            case .ended:
                await failed(StoreError(.unavailable, "the watch of \(follower.key) ended"), &state)
            }
        }
    }

    /// Takes the index, then loads, then delivers the snapshot (``State/next`` stays nil when
    /// the consumer has no room for it).
    private func loadSnapshot(_ state: inout State) async throws {
        let index = try await follower.store.currentIndex()
        let snapshot = try await follower.load()
        state.loads += 1
        if state.loads > 1 { options.counters?.reloaded() }
        restored(&state)
        if deliver(.snapshot(snapshot, index: index)) {
            state.next = Self.after(index)
        }
    }

    /// Opens the watch from ``State/next`` and delivers its events until it fails, ends, falls
    /// silent or outruns the consumer.
    private func watchOnce(_ state: inout State) async -> Outcome {
        guard let from = state.next else { return .consumerBehind }
        let events: AsyncThrowingStream<StoreEvent, any Error>
        do {
            events = try await follower.store.watch(follower.key, recursive: follower.recursive, fromIndex: from)
        } catch {
            return .failed(error)
        }
        restored(&state)
        let progress = Progress(next: from)
        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask { await consume(events, from: from, progress) }
            if let bound = options.maxSilence, !Self.storeBoundsSilence(follower.store, within: bound) {
                group.addTask { await silence(progress, bound) }
            }
            let first = await group.next() ?? .ended
            group.cancelAll()  // ends the other child; the watch ends with its stream's iteration
            return first
        }
        state.next = progress.next
        if progress.delivered { (state.failures, state.clearedInARow) = (0, 0) }
        return outcome
    }

    private func consume(_ events: AsyncThrowingStream<StoreEvent, any Error>, from: UInt64,
                         _ progress: Progress) async -> Outcome {
        do {
            for try await event in events {
                progress.heard()
                // A backend replaying from before `from` must not make the consumer see it twice.
                guard event.index >= from else { continue }
                guard deliver(.event(event)) else { return .consumerBehind }
                progress.delivered(event.index)
            }
            return .ended
        } catch {
            return .failed(error)
        }
    }

    /// Whether `store` replaces its own silent watches within `bound` (asked once the watch is
    /// open: a remote store learns from the watch's reply whether its server sends heartbeats).
    static func storeBoundsSilence(_ store: any KeyValueStore, within bound: Duration) -> Bool {
        guard let limit = store.watchSilenceLimit else { return false }
        return limit <= bound
    }

    /// Returns once nothing was heard for `bound` (or when cancelled, which the caller ignores).
    private func silence(_ progress: Progress, _ bound: Duration) async -> Outcome {
        while !Task.isCancelled {
            let deadline = progress.lastHeard + bound
            if ContinuousClock.now >= deadline { return .silent }
            try? await Task.sleep(until: deadline, clock: .continuous)
        }
        return .silent
    }

    /// Reports the first failure of an outage, then waits before the next attempt.
    private func failed(_ error: any Error, _ state: inout State) async {
        if !state.lost {
            state.lost = true
            options.counters?.lost()
            _ = deliver(.lost(error))
        }
        state.failures += 1
        options.counters?.restarted()
        await pause(options.retryDelay(afterFailures: state.failures))
    }

    private func restored(_ state: inout State) {
        guard state.lost else { return }
        state.lost = false
        _ = deliver(.restored)
    }

    private func pause(_ delay: Duration) async {
        try? await Task.sleep(for: delay)
    }

    /// False when the consumer is ``StoreFollowOptions/maxPendingEvents`` behind.
    private func deliver(_ event: StoreFollowEvent<Snapshot>) -> Bool {
        if case .dropped = output.yield(event) { return false }
        return true
    }

    /// The index after `index`, saturating: an index comes from the store, possibly over the network.
    static func after(_ index: UInt64) -> UInt64 { index == .max ? .max : index + 1 }
}
