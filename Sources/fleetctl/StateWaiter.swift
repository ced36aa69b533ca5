import FleetAPIClient
import Foundation

/// Waits for units to reach a state by asking fleetd, with progress on long waits.
struct StateWaiter {
    let client: FleetClient
    /// 0: until done; N: give up after N attempts of 2 s.
    let attempts: Int

    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    /// The engine says the unit fits on no machine; waiting would never end.
    struct Unplaceable: Error, CustomStringConvertible {
        var unit: String
        var reason: String
        var description: String {
            "unit \(unit) cannot be placed on any machine: \(reason). Change its [X-Fleet] requirements or the machines' metadata, then start it again."
        }
    }

    /// Between two reads of the cluster while waiting. Each read is one request however many
    /// units are waited for.
    static let pollInterval: Duration = .milliseconds(50)
    /// Closer reads at the start of a wait for a few units, while ``quickPhase`` lasts: one unit
    /// is usually active within 30–80 ms, and a 50 ms poll added half its interval to every short
    /// wait. A wait for many units keeps the 50 ms: each read lists the whole cluster, and the
    /// fleetd answering it is the one placing and starting them.
    static let quickPollInterval: Duration = .milliseconds(10)
    static let quickPhase: Duration = .milliseconds(300)
    static let quickPollMaxUnits = 16

    /// Closer reads at the end of a wait for many units, once at most a quarter of them are
    /// left: by then most machines are done and the cluster is quieter, and the wait's last read
    /// is what `fleetctl start` returns after (half a 50 ms interval on average, after the last
    /// state was written). A few more listings per wait, none while the bulk is in flight.
    static let tailPollInterval: Duration = .milliseconds(20)
    /// Only while the wait is younger than this: a unit that never gets there (a failing start,
    /// a machine gone) must not have fleetctl read the whole cluster fifty times a second.
    static let tailPhase: Duration = .seconds(10)

    /// How long to wait before the next read of a wait for `units` units that began at `start`,
    /// with `pending` of them not there yet.
    static func pause(since start: ContinuousClock.Instant, units: Int, pending: Int) -> Duration {
        if units <= quickPollMaxUnits { return ContinuousClock.now - start < quickPhase ? quickPollInterval : pollInterval }
        return pending * 4 <= units && ContinuousClock.now - start < tailPhase ? tailPollInterval : pollInterval
    }

    /// How long the engine's reason must stand before we believe it: a unit may wait one pass
    /// for a peer or for machines that are still registering.
    static let unplaceableGrace: Duration = .seconds(1)

    /// Polls the unit list until `reached` holds for every unit in `names`, calling `done` for each
    /// as it gets there. One `GET /units` per round, whatever the number of units.
    /// - Returns: where each unit of `names` was placed, as the last round read it.
    @discardableResult
    func waitAll(_ names: [String], _ what: String, reached: (UnitEntity) -> Bool,
                 done: (UnitEntity) -> Void) async throws -> [String: String?] {
        let start = ContinuousClock.now
        var lastProgress = start
        var unplaceableSince: [String: ContinuousClock.Instant] = [:]
        var pending = names
        var placements: [String: String?] = [:]
        while !pending.isEmpty {
            let units = Dictionary(try await client.units().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let now = ContinuousClock.now
            var reachedNow: Set<String> = []
            for name in pending {
                guard let unit = units[name] else { continue }
                if reached(unit) {
                    done(unit)
                    placements[name] = unit.machineID
                    reachedNow.insert(name)
                } else if let reason = unit.unplaceableReason, unit.machineID == nil {
                    let since = unplaceableSince[name] ?? now
                    unplaceableSince[name] = since
                    if now - since >= Self.unplaceableGrace { throw Unplaceable(unit: name, reason: reason) }
                } else {
                    unplaceableSince[name] = nil
                }
            }
            pending.removeAll { reachedNow.contains($0) }
            DebugLog.log("\(pending.count) units yet to \(what)")
            guard !pending.isEmpty else { return placements }
            if attempts > 0, now - start >= .seconds(2 * attempts) {
                throw Timeout(description: "timed out waiting for unit \(pending[0]) to \(what)")
            }
            if now - lastProgress >= .seconds(10) {
                lastProgress = now
                Terminal.error("still waiting for \(pending.count) unit(s) to \(what), e.g. \(pending[0])")
            }
            try await Task.sleep(for: Self.pause(since: start, units: names.count, pending: pending.count))
        }
        return placements
    }
}
