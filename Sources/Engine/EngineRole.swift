import Synchronization

/// Whether this machine's engine leads, for the task that follows the store: the leader
/// follows the whole registry (its passes plan from that model), the others only the lease
/// key, to take over the moment it goes. Every other machine following every unit, state and
/// assignment of the cluster cost each of them a decoded watch event per write, and the
/// store's machine an encoded one per follower, for a model nobody planned from.
final class EngineRole: Sendable {
    private struct State {
        var leading = false
        /// The last try for the lease was answered: another machine holds it.
        var leaseHeldElsewhere = false
        var finished = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    var isLeading: Bool { state.withLock { $0.leading } }

    /// Whether the last try for the lease found it held by another machine (not an error).
    var leaseHeldElsewhere: Bool { state.withLock { $0.leaseHeldElsewhere } }

    func set(leaseHeldElsewhere: Bool) { state.withLock { $0.leaseHeldElsewhere = leaseHeldElsewhere } }

    /// Records whether the engine leads now; wakes ``changed(from:)`` when that is news.
    func set(leading: Bool) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.leading != leading else { return [] }
            state.leading = leading
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// The engine has stopped: every wait returns, now and later.
    func finish() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once the role is no longer `leading`, the engine stopped, or the task is cancelled.
    func changed(from leading: Bool) async {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiter &+= 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.leading != leading || state.finished || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiting = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiting?.resume()
        }
    }
}
