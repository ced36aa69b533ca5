import FleetRegistry
import FleetStore
import Logging

extension Agent {
    /// Keeps the machine's presence key alive: refreshes it every ``Configuration/presenceInterval``,
    /// and re-publishes it if it had expired.
    ///
    /// Each refresh is bounded in time (``Configuration/refreshTimeout``). While refreshes fail,
    /// a new attempt starts every 250 ms without waiting for the last one to time out: across a
    /// network cut a request hangs until its deadline, and the first attempt after the cut mends
    /// must go out at once, or an outage well inside the TTL could still let the key expire.
    /// When contact comes back after failures, the agent takes stock in full and makes its
    /// assignment watch anew: while it was cut off, the engine may have moved its units.
    func keepPresence() async {
        let interval = configuration.presenceInterval
        while !Task.isCancelled {
            try? await Task.sleep(for: presence.isFailing ? .zero : interval)
            if Task.isCancelled { return }
            guard let (sent, answer) = await refreshPresence(overlapping: presence.isFailing) else {
                if presence.failed() {
                    logger.warning("presence refresh failed; retrying", metadata: ["machine.id": "\(machineID)"])
                }
                continue
            }
            if case .heldByAnother(let duplicate) = answer {
                // Another fleetd registered this machine's ID while ours was away: refuse loudly
                // and stop without touching its key (run() throws the error).
                presence.lost(to: duplicate)
                requests.finish()
                return
            }
            let refreshed = answer == .refreshed
            // The systemd-side fence fires by itself once contact was lost for long enough;
            // the units it stopped must be started again now, like those the agent fenced.
            if presence.sinceConfirmed(now: sent) > configuration.fenceAfter - FenceUnits.armingSlack {
                await markFencedUnitsStopped()
            }
            let recovered = presence.confirmed(sentAt: sent)
            await armFence()
            if !refreshed {
                logger.warning("presence had expired; machine registered again", metadata: ["machine.id": "\(machineID)"])
                await republishRecords()
            }
            if recovered || !refreshed {
                logger.info("contact with the store is back; taking stock", metadata: ["machine.id": "\(machineID)"])
                rewatch.fire()
                requests.request(.full)
            }
        }
    }

    /// One refresh (re-publishing the presence if it had expired), or while `overlapping` up to
    /// four attempts started 250 ms apart, the first answer winning. Returns when the winning
    /// attempt was sent and what it found, or nil if every attempt failed.
    func refreshPresence(overlapping: Bool) async -> (sent: ContinuousClock.Instant, answer: PresenceAnswer)? {
        let timeout = configuration.refreshTimeout
        let attempt: @Sendable () async -> (sent: ContinuousClock.Instant, answer: PresenceAnswer)? = {
            let sent = ContinuousClock.now
            do {
                return (sent, try await refreshOrRegister(timeout: timeout))
            } catch {
                logger.debug("presence refresh attempt failed", metadata: ["error": "\(error)"])
                return nil
            }
        }
        guard overlapping else { return await attempt() }
        enum Outcome: Sendable {
            case answered(sent: ContinuousClock.Instant, answer: PresenceAnswer)
            case failed
            case tick
        }
        return await withTaskGroup(of: Outcome.self) { group in
            var started = 0, failed = 0
            func launch() {
                started += 1
                group.addTask {
                    guard let answer = await attempt() else { return .failed }
                    return .answered(sent: answer.sent, answer: answer.answer)
                }
                if started < 4 {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(250))
                        return .tick  // time for the next attempt
                    }
                }
            }
            launch()
            while let outcome = await group.next() {
                switch outcome {
                case .answered(let sent, let answer):
                    group.cancelAll()
                    return (sent, answer)
                case .tick:
                    if started < 4, !Task.isCancelled { launch() }
                case .failed:
                    failed += 1
                    if failed == started, started >= 4 { return nil }
                }
            }
            return nil
        }
    }
}

/// What one presence refresh found.
enum PresenceAnswer: Sendable, Equatable {
    /// The key was still this fleetd's.
    case refreshed
    /// The key had expired and this fleetd registered the machine again.
    case registeredAgain
    /// Another fleetd holds the machine's ID now.
    case heldByAnother(DuplicateMachineError)
}

extension Agent {
    /// Refreshes the presence key if it still holds this fleetd's record, or registers the
    /// machine again if it expired; each store call bounded by `timeout`. Without a session
    /// (tests, embedders) a key that holds another record is simply overwritten, as in fleet.
    func refreshOrRegister(timeout: Duration) async throws -> PresenceAnswer {
        let record = configuration.machine, ttl = configuration.ttl
        let found = try await withDeadline(timeout) { try await registry.refreshMachine(record, ttl: ttl) }
        if found == .refreshed { return .refreshed }
        guard let session = record.session else {
            try await withDeadline(timeout) { try await registry.publishMachine(record, ttl: ttl) }
            return found == .expired ? .registeredAgain : .refreshed
        }
        if found == .expired {
            guard let holder = try await withDeadline(timeout, { try await registry.createMachine(record, ttl: ttl) }) else {
                return .registeredAgain
            }
            if holder.record?.session == session {  // an earlier attempt of ours created it
                try await withDeadline(timeout) { try await registry.publishMachine(record, ttl: ttl) }
                return .registeredAgain
            }
            if holder.record == nil { throw PresenceChanged() }  // expired meanwhile: the next attempt creates it
            return .heldByAnother(DuplicateMachineError(machineID: record.id, heldBy: holder.record?.publicIP))
        }
        let holder = try await withDeadline(timeout) { try await registry.presenceHolder(record.id) }
        return .heldByAnother(DuplicateMachineError(machineID: record.id, heldBy: holder?.record?.publicIP))
    }
}

/// The presence key changed under a refresh attempt; the next attempt finds out how.
struct PresenceChanged: Error {}

/// The time limit of one store call ran out.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "no answer within \(limit)" }
}

/// Runs `body`, cancelling it and throwing ``DeadlineExceeded`` if it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded(limit: limit) }
        return value
    }
}
