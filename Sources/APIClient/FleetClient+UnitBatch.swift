import Foundation

/// Many unit writes in few requests (`POST /fleet/v1/batch/units`, ours, not fleet's).
extension FleetClient {
    /// The most units fleetctl puts in one request, and the most bytes: within fleetd's limits
    /// (1,000 units, 16 MB), so a batch is never refused for its size.
    static let unitBatchUnits = 500
    static let unitBatchBytes = 8 << 20

    /// Writes every unit as its own `PUT` would (create, replace contents or set the desired
    /// state), in as few requests as the limits allow, one after another.
    ///
    /// - Returns: each unit's refusal, or nil where it was written, in the order given; nil
    ///   instead of the list when the fleetd has no batch route (fleet itself, or an older
    ///   fleetd): the caller then writes the units one by one, as fleet's fleetctl does.
    /// - Throws: ``FleetClientError`` when a whole request fails (unreachable, refused).
    public func writeUnits(_ units: [UnitEntity]) async throws -> [FleetClientError?]? {
        var refusals: [FleetClientError?] = []
        for batch in try Self.batches(of: units) {
            let response = try await send("/fleet/v1/batch/units", method: .POST, body: batch.body)
            if refusals.isEmpty, response.status == .notFound || response.status == .methodNotAllowed {
                // Read to its end, so the connection goes back to the pool for the PUTs that follow.
                _ = try? await response.body.collect(upTo: 1 << 20)
                return nil
            }
            try await Self.check(response)
            let body = try await response.body.collect(upTo: 16 << 20)
            let outcomes: [UnitBatchOutcome]
            do {
                outcomes = try JSONDecoder().decode(UnitBatchOutcomes.self, from: body).results
            } catch {
                throw FleetClientError("fleetd sent a reply that is not valid API JSON for a batch of units: \(error)")
            }
            guard outcomes.map(\.name) == batch.names else {
                throw FleetClientError("fleetd answered a batch of \(batch.names.count) units with \(outcomes.count) outcomes that do not match them")
            }
            refusals += outcomes.map { outcome in
                guard !(200..<300).contains(outcome.code) else { return nil }
                let message = outcome.message ?? ""
                return FleetClientError("googleapi: Error \(outcome.code): \(message)", status: outcome.code, apiMessage: message)
            }
        }
        return refusals
    }

    /// One request's worth of units: their names in order and the body naming them.
    struct UnitBatchRequest {
        var names: [String]
        var body: Data
    }

    /// `units` cut into requests of at most ``unitBatchUnits`` units and ``unitBatchBytes``
    /// bytes (a unit larger than that alone goes in a request of its own, where fleetd judges
    /// it as it would its `PUT`).
    static func batches(of units: [UnitEntity], maxUnits: Int = unitBatchUnits,
                        maxBytes: Int = unitBatchBytes) throws -> [UnitBatchRequest] {
        let encoder = JSONEncoder()
        var batches: [UnitBatchRequest] = []
        var names: [String] = []
        var parts: [Data] = []
        var size = 0
        func close() {
            guard !parts.isEmpty else { return }
            var body = Data("{\"units\":[".utf8)
            for (index, part) in parts.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body.append(part)
            }
            body.append(contentsOf: Array("]}".utf8))
            batches.append(UnitBatchRequest(names: names, body: body))
            names = []
            parts = []
            size = 0
        }
        for unit in units {
            let part = try encoder.encode(unit)
            if names.count == maxUnits || (!parts.isEmpty && size + part.count + 1 > maxBytes) { close() }
            names.append(unit.name)
            parts.append(part)
            size += part.count + 1
        }
        close()
        return batches
    }
}
