import NIOCore
import Synchronization

/// ``untilDisconnected(_:channel:heartbeat:marker:)`` for a response that writes whatever has
/// arrived at once: each element of the result is everything `source` produced since the
/// consumer last took a batch, so a burst (the events of one store commit) goes out as one
/// write, one TLS record and one flush instead of one per element.
///
/// With a `heartbeat` interval, a batch is empty when the consumer has taken nothing for that
/// long: the response writes a heartbeat then, so its client hears a live connection while
/// nothing happens (and the server learns of a vanished client from a failed write).
///
/// Bounded: when more than `limit` elements wait (the client reads too slowly), the sequence
/// ends with `overflow(element)`, and `source` is no longer iterated. The consumer calls
/// ``ElementBatches/finish()`` when it leaves.
public func batchesUntilDisconnected<Element: Sendable>(
    _ source: some AsyncSequence<Element, any Error> & Sendable, channel: (any Channel)?, limit: Int,
    heartbeat: Duration? = nil, overflow: @escaping @Sendable (Element) -> any Error
) -> ElementBatches<Element> {
    let batches = ElementBatches<Element>()
    // One wake-up per interval at most: it sleeps until the interval after the last batch taken.
    let beat: Task<Void, Never>? = heartbeat.map { interval in
        Task {
            while !Task.isCancelled {
                let due = batches.lastTaken + interval
                if ContinuousClock.now >= due {
                    guard batches.beat() else { return }
                } else {
                    try? await Task.sleep(until: due, clock: .continuous)
                }
            }
        }
    }
    let pump = Task {
        do {
            for try await element in source where !batches.append(element, limit: limit) {
                // Ending cancels this task, so the source sees its consumer go (a store
                // watcher is released) when the loop asks for the next element.
                batches.end(throwing: overflow(element))
            }
            batches.end(throwing: nil)
        } catch {
            batches.end(throwing: error)
        }
    }
    batches.onEnd {
        pump.cancel()
        beat?.cancel()
    }
    channel?.clientGone.whenComplete { _ in batches.end(throwing: nil) }
    return batches
}

/// What ``batchesUntilDisconnected(_:channel:limit:overflow:)`` returns: one consumer takes the
/// batches in order; the sequence ends (or throws) once the source did and all was taken.
public final class ElementBatches<Element: Sendable>: AsyncSequence, Sendable {
    private struct State {
        var waiting: [Element] = []
        /// Set once: nil inside means a clean end.
        var end: (any Error)??
        var consumer: CheckedContinuation<Void, Never>?
        var onEnd: (@Sendable () -> Void)?
        /// A heartbeat is owed: the next batch is empty if nothing else waits.
        var beatDue = false
        /// When the consumer last took a batch (or, before that, when the sequence was made).
        var lastTaken = ContinuousClock.now
    }

    private let state = Mutex(State())

    private enum Step {
        case batch([Element])
        case finished((any Error)?)
        case wait
    }

    init() {}

    /// Queues `element`; false when `limit` are already waiting (nothing is queued then).
    func append(_ element: Element, limit: Int) -> Bool {
        let woken = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.end == nil else { return (true, nil) }
            guard state.waiting.count < limit else { return (false, nil) }
            state.waiting.append(element)
            defer { state.consumer = nil }
            return (true, state.consumer)
        }
        woken.1?.resume()
        return woken.0
    }

    var lastTaken: ContinuousClock.Instant { state.withLock { $0.lastTaken } }

    /// Owes the consumer an empty batch (a heartbeat), and counts it as taken; false once the
    /// sequence has ended.
    func beat() -> Bool {
        let (open, woken) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.end == nil else { return (false, nil) }
            state.beatDue = true
            state.lastTaken = .now
            defer { state.consumer = nil }
            return (true, state.consumer)
        }
        woken?.resume()
        return open
    }

    /// Ends the sequence after what is queued (with `error`, if any); the first end wins.
    func end(throwing error: (any Error)?) {
        let (woken, onEnd) = state.withLock { state -> (CheckedContinuation<Void, Never>?, (@Sendable () -> Void)?) in
            guard state.end == nil else { return (nil, nil) }
            state.end = .some(error)
            defer {
                state.consumer = nil
                state.onEnd = nil
            }
            return (state.consumer, state.onEnd)
        }
        woken?.resume()
        onEnd?()
    }

    /// The consumer is done (it may stop early, as a one-event watch does): `source` is no
    /// longer iterated. Call it when leaving, whatever the way out.
    public func finish() { end(throwing: nil) }

    func onEnd(_ action: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state -> Bool in
            if state.end != nil { return true }
            state.onEnd = action
            return false
        }
        if ended { action() }
    }

    /// The next batch; nil once the sequence ended cleanly and everything was taken. Empty
    /// only for a heartbeat.
    func next() async throws -> [Element]? {
        while true {
            let step = state.withLock { state -> Step in
                if !state.waiting.isEmpty {
                    defer { (state.waiting, state.beatDue, state.lastTaken) = ([], false, .now) }
                    return .batch(state.waiting)
                }
                if let end = state.end { return .finished(end) }
                if state.beatDue {
                    state.beatDue = false
                    return .batch([])
                }
                return .wait
            }
            switch step {
            case let .batch(batch): return batch
            case let .finished(error?): throw error
            case .finished(nil): return nil
            case .wait: await waitForMore()
            }
        }
    }

    /// Suspends until something is queued or the sequence ends; a cancelled consumer ends it.
    private func waitForMore() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if !state.waiting.isEmpty || state.end != nil || state.beatDue || Task.isCancelled { return true }
                    state.consumer = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            end(throwing: CancellationError())
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let batches: ElementBatches

        public mutating func next() async throws -> [Element]? { try await batches.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(batches: self) }

    deinit { state.withLock { $0.onEnd }?() }
}
