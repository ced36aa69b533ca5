import Synchronization

/// When this machine last knew for certain that the cluster counted it alive.
///
/// The presence key's TTL runs from the moment the store applied the last refresh, which is
/// after the agent *sent* it; so the agent notes the send time of each refresh that succeeded,
/// and reasons from that. Once that lies further back than the TTL, the engine may already
/// have moved this machine's units; a little before, fenced units must be stopped.
final class PresenceClock: Sendable {
    private struct State {
        var confirmed: ContinuousClock.Instant
        var failing = false
        var heldByAnother: DuplicateMachineError?
    }

    private let state: Mutex<State>

    init(now: ContinuousClock.Instant = .now) {
        state = Mutex(State(confirmed: now))
    }

    /// A refresh sent at `sentAt` succeeded. Returns true if refreshes had been failing, i.e. the
    /// machine just got its contact with the store back.
    @discardableResult
    func confirmed(sentAt: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            state.confirmed = max(state.confirmed, sentAt)
            defer { state.failing = false }
            return state.failing
        }
    }

    /// A refresh failed. Returns true for the first failure of an outage (worth one warning).
    @discardableResult
    func failed() -> Bool {
        state.withLock { state in
            defer { state.failing = true }
            return !state.failing
        }
    }

    /// How long ago the last successful refresh was sent.
    func sinceConfirmed(now: ContinuousClock.Instant = .now) -> Duration {
        now - state.withLock { $0.confirmed }
    }

    var isFailing: Bool { state.withLock { $0.failing } }

    /// Another fleetd took this machine's presence key (a duplicate machine ID): the agent
    /// must stop, touching nothing in the store.
    func lost(to duplicate: DuplicateMachineError) {
        state.withLock { $0.heldByAnother = duplicate }
    }

    var heldByAnother: DuplicateMachineError? { state.withLock { $0.heldByAnother } }
}
