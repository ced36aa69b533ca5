import FleetRegistry
import FleetStore
import Logging

extension Agent {
    /// Keeps the machine's presence key alive: refreshes it every ``Configuration/presenceInterval``,
    /// retries quickly while the store cannot be reached, and re-publishes it if it had expired.
    ///
    /// Each refresh is bounded in time, so one request stuck in a network cut cannot use up the
    /// TTL. When contact comes back after failures, the agent takes stock in full and makes its
    /// assignment watch anew: while it was cut off, the engine may have moved its units.
    func keepPresence() async {
        let interval = configuration.presenceInterval
        let timeout = configuration.refreshTimeout
        while !Task.isCancelled {
            try? await Task.sleep(for: presence.isFailing ? min(interval, .milliseconds(250)) : interval)
            if Task.isCancelled { return }
            let sent = ContinuousClock.now
            do {
                let refreshed = try await withDeadline(timeout) {
                    try await registry.refreshMachine(machineID, ttl: configuration.ttl)
                }
                if !refreshed {
                    try await withDeadline(timeout) {
                        try await registry.publishMachine(configuration.machine, ttl: configuration.ttl)
                    }
                    logger.warning("presence had expired; machine registered again", metadata: ["machine.id": "\(machineID)"])
                }
                // The systemd-side fence fires by itself once contact was lost for long enough;
                // the units it stopped must be started again now, like those the agent fenced.
                if presence.sinceConfirmed(now: sent) > configuration.fenceAfter - FenceUnits.armingSlack {
                    await markFencedUnitsStopped()
                }
                let recovered = presence.confirmed(sentAt: sent)
                await armFence()
                if recovered || !refreshed {
                    logger.info("contact with the store is back; taking stock",
                                metadata: ["machine.id": "\(machineID)"])
                    rewatch.fire()
                    requests.request(.full)
                }
            } catch {
                if presence.failed() {
                    logger.warning("presence refresh failed; retrying", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

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
