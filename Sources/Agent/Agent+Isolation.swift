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
        } catch {
            logger.warning("cannot install the fence timer", metadata: ["error": "\(error)"])
        }
    }

    /// Re-arms the fence timer after a refresh sent at `sent` succeeded, if it came back quickly
    /// enough that the timer's deadline stays before the fence point (``FenceUnits/armingSlack``).
    func armFence(sent: ContinuousClock.Instant) async {
        guard ContinuousClock.now - sent < FenceUnits.armingSlack else { return }
        do { try await units.restart(FenceUnits.timer) } catch {
            logger.debug("re-arming the fence timer failed", metadata: ["error": "\(error)"])
        }
    }

    /// The fence: once the last confirmed presence refresh lies ``Configuration/fenceAfter``
    /// back, the engine may soon take this machine for dead and start its units elsewhere, so
    /// units whose isolation policy is `stop` are stopped now, before that can happen. They are
    /// started again by the full pass that follows the machine's return, if still assigned here.
    func fenceIfIsolated() async {
        let isolatedFor = presence.sinceConfirmed()
        guard isolatedFor > configuration.fenceAfter else { return }
        for (unit, hash) in await local.launched() {
            guard await isolation(of: unit, hash) == .stop else { continue }
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
