import Dispatch
import FleetStore
import Synchronization

/// A result that one thread fills in once and others wait for: the bridge between the store's
/// SQLite thread and the tasks (or, once at start-up, the thread) waiting on it.
///
/// Waiters are resumed after the lock is released, never under it.
final class StorePromise<Value: Sendable>: Sendable {
    private enum Waiter {
        case task(CheckedContinuation<Result<Value, any Error>, Never>)
        case thread(DispatchSemaphore)
    }

    private enum State {
        case pending([Waiter])
        case done(Result<Value, any Error>)
    }

    private let state = Mutex(State.pending([]))

    init() {}

    /// The result if it is already there; never waits.
    var currentResult: Result<Value, any Error>? {
        state.withLock { state in
            if case let .done(result) = state { return result }
            return nil
        }
    }

    /// Fills in the result; later calls are ignored (the first result stands).
    func complete(_ result: Result<Value, any Error>) {
        let waiters: [Waiter] = state.withLock { state in
            guard case let .pending(waiters) = state else { return [] }
            state = .done(result)
            return waiters
        }
        for waiter in waiters {
            switch waiter {
            case let .task(continuation): continuation.resume(returning: result)
            case let .thread(semaphore): semaphore.signal()
            }
        }
    }

    func succeed(_ value: Value) { complete(.success(value)) }
    func fail(_ error: any Error) { complete(.failure(error)) }

    /// Waits without blocking a thread. Not cancellable on purpose: a write that was handed to
    /// SQLite commits (or fails) regardless, and its caller must learn which.
    func result() async -> Result<Value, any Error> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, any Error>, Never>) in
            let ready: Result<Value, any Error>? = state.withLock { state in
                switch state {
                case let .done(result):
                    return result
                case var .pending(waiters):
                    waiters.append(.task(continuation))
                    state = .pending(waiters)
                    return nil
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Blocks the calling thread until the result is there. Only for a synchronous caller that
    /// has no other way to wait (``EmbeddedStore/init(path:historyLimit:now:)``).
    func blockingResult() -> Result<Value, any Error> {
        let semaphore = DispatchSemaphore(value: 0)
        let ready: Result<Value, any Error>? = state.withLock { state in
            switch state {
            case let .done(result):
                return result
            case var .pending(waiters):
                waiters.append(.thread(semaphore))
                state = .pending(waiters)
                return nil
            }
        }
        if let ready { return ready }
        semaphore.wait()
        return currentResult!
    }
}
