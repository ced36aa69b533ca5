import FleetStore
import Foundation
import ServiceLifecycle
import Synchronization

/// The sleep of ``EmbeddedStore/run()`` between expiries, which others may cut short.
struct ExpirySleep: Sendable {
    var task: Task<Void, Never>?
    /// Set by cancellation or graceful shutdown: no further sleep begins.
    var stopped = false
}

extension EmbeddedStore {
    /// The longest ``run()`` sleeps when no key is due sooner (it wakes earlier when a write
    /// brings a deadline closer).
    static let longestExpirySleep: TimeInterval = 10

    /// Expires keys on time until a graceful shutdown or cancellation, then closes the store.
    ///
    /// Sleeps until the earliest deadline rather than polling, so an idle store wakes about once
    /// per TTL instead of five times a second; ``apply(_:)`` wakes it when a write's deadline is
    /// earlier than the one it sleeps towards.
    ///
    /// - Throws: the store's error once the disk failed in a way that stops all writing, so the
    ///   service group (and fleetd) stop instead of running on without a durable store.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await expireOnTime()
            } onCancel: {
                self.stopExpirySleep()
            }
        } onGracefulShutdown: {
            self.stopExpirySleep()
        }
        await close()
    }

    private func expireOnTime() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully && !isClosed {
            if let fatal = writer.fatalError {
                await close()
                throw fatal
            }
            // A failure that is not fatal (a full disk) stored nothing; the next wake tries again.
            try? await expireDueKeys()
            let untilNext = working.earliestExpiration.map { $0.timeIntervalSince(now()) } ?? Self.longestExpirySleep
            let wait = min(max(untilNext, 0.005), Self.longestExpirySleep)
            scheduledExpiryWake = now().addingTimeInterval(wait)
            let sleeper = Task { _ = try? await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            let stopped = expirySleep.withLock { state in
                state.task = sleeper
                if state.stopped { sleeper.cancel() }
                return state.stopped
            }
            if !stopped { await sleeper.value }
            expirySleep.withLock { $0.task = nil }
            scheduledExpiryWake = nil
        }
    }

    /// Ends ``run()``'s sleep and keeps it from sleeping again.
    nonisolated func stopExpirySleep() {
        expirySleep.withLock { state in
            state.stopped = true
            state.task?.cancel()
        }
    }

    /// Cuts ``run()``'s sleep short when the earliest deadline is now before its wake-up time.
    func wakeExpiryIfSooner() {
        guard let wake = scheduledExpiryWake, let earliest = working.earliestExpiration, earliest < wake else { return }
        scheduledExpiryWake = nil
        expirySleep.withLock { $0.task?.cancel() }
    }
}
