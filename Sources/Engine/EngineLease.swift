import FleetRegistry

/// What an engine believes about its own leadership: the lease term it holds and the latest
/// moment at which that belief can still be true.
///
/// The store starts a renewal's TTL no earlier than the renewal was *sent*, so the lease is
/// certainly this engine's until ``deadline`` (sent + TTL) and possibly someone else's after
/// it. A process that was stopped (SIGSTOP, a long stall) finds itself past the deadline on
/// waking and must not act on the belief: it stops leading before its next write, without
/// waiting for a write's guard to tell it. The guard (``Registry/fenced(by:)``) is what makes
/// that safe in the window no local check can close: a stall between the check and the write.
struct EngineLease: Sendable, Equatable {
    var term: LeaseTerm
    /// When the renewal that confirmed ``term`` was sent, by the engine's clock.
    var renewedAt: ContinuousClock.Instant
    var ttl: Duration

    var deadline: ContinuousClock.Instant { renewedAt + ttl }

    func isOverdue(at now: ContinuousClock.Instant) -> Bool { now >= deadline }

    /// Throws ``LeadershipLoss/Reason/renewalOverdue`` once ``deadline`` has passed.
    func check(at now: ContinuousClock.Instant) throws(LeadershipLoss) {
        guard isOverdue(at: now) else { return }
        throw LeadershipLoss(.renewalOverdue, "lease \(term) not renewed for \(now - renewedAt) (TTL \(ttl))")
    }
}

/// Why an engine stopped leading; thrown out of a pass, so the pass writes nothing more.
struct LeadershipLoss: Error, CustomStringConvertible {
    struct Reason: Hashable, Sendable, CustomStringConvertible {
        /// The metric label (`fleet_engine_leadership_lost_count_total{reason}`).
        let label: String
        /// More than the TTL passed since the last renewal was sent (the process stalled).
        static let renewalOverdue = Reason(label: "renewal_overdue")
        /// Renewing failed (the store could not be reached, or answered with an error).
        static let renewalFailed = Reason(label: "renewal_failed")
        /// The lease is another term's: someone else's, or this machine's again after a lapse.
        static let takenOver = Reason(label: "taken_over")
        /// A write's guard failed: the store says the lease is no longer this term's.
        static let guardFailed = Reason(label: "guard_failed")
        var description: String { label }
    }

    var reason: Reason
    var message: String

    init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    var description: String { "\(reason): \(message)" }
}
