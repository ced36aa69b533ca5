import FleetAPI
import Foundation

/// Waits for units to reach a state by asking fleetd, with progress on long waits.
struct StateWaiter {
    let client: FleetClient
    /// 0: until done; N: give up after N attempts of 2 s.
    let attempts: Int

    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    /// Polls `name` until `reached` holds for it, returning the unit as it then is.
    /// `describe` says what is awaited, for progress lines and the timeout message.
    func wait(for name: String, _ what: String, reached: (UnitEntity?) -> Bool) async throws -> UnitEntity? {
        let start = ContinuousClock.now
        var lastProgress = start
        while true {
            let unit = try await client.unit(name)
            if reached(unit) { return unit }
            let now = ContinuousClock.now
            if attempts > 0, now - start >= .seconds(2 * attempts) {
                throw Timeout(description: "timed out waiting for unit \(name) to \(what)")
            }
            if now - lastProgress >= .seconds(10) {
                lastProgress = now
                let current = unit.map { "desired \($0.desiredState ?? "-"), current \($0.currentState ?? "-"), machine \($0.machineID ?? "not placed yet")" } ?? "not in the registry"
                Terminal.error("still waiting for unit \(name) to \(what) (\(current))")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
