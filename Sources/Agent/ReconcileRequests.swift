import Synchronization

/// Requests for the agent's loop, coalesced: any number of requests before the loop takes them
/// count as one pass, and a pass is full if any of them asked for that.
///
/// A *changes* pass diffs the assignments against what the agent knows it runs. A *full* pass
/// first takes stock of systemd itself (fleet's marked unit files: adopts what runs and is
/// assigned, removes orphans); it runs at start, after every reconnect to the store, and
/// periodically. A *fence* check stops fenced units once the machine is isolated too long.
final class ReconcileRequests: Sendable {
    struct Pending: OptionSet, Sendable {
        let rawValue: UInt8
        static let changes = Pending(rawValue: 1)
        static let full = Pending(rawValue: 2)
        static let fence = Pending(rawValue: 4)
    }

    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let pending = Mutex(Pending())

    init() {
        (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func request(_ kind: Pending) {
        pending.withLock { $0.formUnion(kind) }
        continuation.yield()
    }

    /// What was asked for since the last call (empty if nothing).
    func take() -> Pending {
        pending.withLock { pending in
            defer { pending = [] }
            return pending
        }
    }

    func finish() { continuation.finish() }
}

/// A one-shot-at-a-time signal between two tasks: ``fire()`` wakes the task in ``wait()``, or
/// the next one to call it. Cancelling the waiting task wakes it too.
final class Trigger: Sendable {
    private let state = Mutex<(fired: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.fired = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.fired || Task.isCancelled {
                        state.fired = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
