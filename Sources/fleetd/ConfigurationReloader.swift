import Logging
import ServiceLifecycle
import UnixSignals

/// fleetd's answer to SIGHUP: log `Reloading configuration`, apply what can change while
/// running, and keep serving. fleet did the same; before this, SIGHUP's default action ended
/// fleetd (issue 12), so a `systemctl reload` or a terminal closing took the machine out.
///
/// The signal is trapped by ``trapHangups()`` before any service starts, so a SIGHUP during
/// start-up is no longer fatal either; this service then takes the signals one at a time.
/// What a reload reads and applies is the `reload` closure's business (``FleetdReload``), so
/// a configuration file slots in there without touching the signal handling.
struct ConfigurationReloader: Service {
    let hangups: UnixSignalsSequence
    let reload: @Sendable () async -> Void
    let logger: Logger

    /// Traps SIGHUP from now on (its default action would end the process).
    static func trapHangups() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sighup)
    }

    func run() async {
        for await _ in hangups.cancelOnGracefulShutdown() {
            logger.info("Reloading configuration")
            await reload()
        }
    }
}
