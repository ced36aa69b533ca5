import FleetUnit
import Logging

extension Agent {
    /// Writes the fence's timer and target (``FenceUnits``) and arms the timer. A failure is
    /// logged: the in-process fence below still works while fleetd runs.
    func installFence() async {
        do {
            let timer = FenceUnits.timerText(after: configuration.fenceAfter - FenceUnits.armingSlack)
            var changed = try await units.writeUnitFile(FenceUnits.target, contents: FenceUnits.targetText) == .modified
            changed = try await units.writeUnitFile(FenceUnits.timer, contents: timer) == .modified || changed
            if changed { try await units.reload() }
            try await units.restart(FenceUnits.timer)
            await units.watch([FenceUnits.target])
        } catch {
            logger.warning("cannot install the fence timer", metadata: ["error": "\(error)"])
        }
    }

    /// After an outage long enough for the fence timer to have fired, books every launched unit
    /// with `Isolation=stop` as fenced (systemd stopped it, or is about to), so the full pass that
    /// follows starts it again if it is still assigned here; starting one that runs is a no-op.
    func markFencedUnitsStopped() async {
        for (unit, hash) in await local.launched() {
            if await cachedIsolation(of: unit, hash) == .stop { await local.setFenced(unit) }
        }
    }

    /// systemd started the fence target (the timer was not re-armed in time): its fenced units
    /// are stopped. Book them so; the full pass starts them again once presence is confirmed.
    func fenceTimerFired() async {
        logger.warning("fence: the fence timer fired; fenced units were stopped by systemd",
                       metadata: ["agent.isolated_for": "\(presence.sinceConfirmed())"])
        await markFencedUnitsStopped()
        requests.request(.full)
    }

    /// Re-arms the fence timer after a refresh succeeded. Refreshes are bounded by
    /// ``Configuration/refreshTimeout`` (at most the TTL less the fence point), so even a slow
    /// answer re-arms it to fire before the presence the refresh bought runs out.
    func armFence() async {
        do { try await units.restart(FenceUnits.timer) } catch {
            logger.warning("re-arming the fence timer failed", metadata: ["error": "\(error)"])
        }
    }

    /// Asks for a fence pass once the last confirmed presence refresh is ``Configuration/fenceAfter``
    /// old. It sleeps until that moment, which each refresh moves on, instead of checking four
    /// times a second: an idle machine wakes for this about once per `fenceAfter`. While cut
    /// off it checks every ``isolatedCheck``, so units launched meanwhile are fenced too.
    func watchForIsolation() async {
        while !Task.isCancelled {
            let untilFence = configuration.fenceAfter - presence.sinceConfirmed()
            if untilFence < .zero {
                requests.request(.fence)
                try? await Task.sleep(for: Self.isolatedCheck)
            } else {
                // Just past the point, so the pass it asks for finds the machine isolated.
                try? await Task.sleep(for: untilFence + .milliseconds(1))
            }
        }
    }

    static let isolatedCheck: Duration = .milliseconds(250)

    /// The fence: once the last confirmed presence refresh lies ``Configuration/fenceAfter``
    /// back, the engine may soon take this machine for dead and start its units elsewhere, so
    /// units whose isolation policy is `stop` are stopped now, before that can happen. They are
    /// started again by the full pass that follows the machine's return, if still assigned here.
    func fenceIfIsolated() async {
        let isolatedFor = presence.sinceConfirmed()
        guard isolatedFor > configuration.fenceAfter else { return }
        for (unit, hash) in await local.launched() {
            guard await cachedIsolation(of: unit, hash) == .stop else { continue }
            do {
                try await units.stop(unit.rawValue)
            } catch {
                logger.warning("fence: stopping an isolated unit failed", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
                continue
            }
            await local.setFenced(unit)
            await states.enqueue(unit, .publish)
            logger.warning("fence: stopped a unit while cut off from the cluster",
                           metadata: ["unit.name": "\(unit)", "agent.isolated_for": "\(isolatedFor)"])
        }
    }
}
