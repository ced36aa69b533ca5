import FleetAPIClient

/// Writes units (new ones, new contents or desired states) in batches, or, to a fleetd without
/// them (fleet itself), one request per unit with at most `limit` in flight. The first refusal
/// in the units' order is thrown, `describe`d with its unit's name (a whole batch refused,
/// with the first unit's); with batches every other unit was still written, as concurrent
/// requests would have done.
func writeUnits(_ units: [UnitEntity], client: FleetClient, limit: Int = concurrentRequestLimit,
                describe: @escaping @Sendable (String, any Error) -> any Error = { _, error in error }) async throws {
    guard let first = units.first else { return }
    let batched: [FleetClientError?]?
    do {
        batched = try await client.writeUnits(units)
    } catch {
        throw describe(first.name, error)  // as the first unit's own request would have failed
    }
    if let refusals = batched {
        if let (unit, refusal) = zip(units, refusals).first(where: { $0.1 != nil }), let refusal {
            throw describe(unit.name, refusal)
        }
        return
    }
    try await forEachConcurrently(units, limit: limit) { unit in
        do {
            try await client.createUnit(unit)
        } catch {
            throw describe(unit.name, error)
        }
    }
}
