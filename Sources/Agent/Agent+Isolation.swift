import FleetUnit
import Logging

extension Agent {
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
