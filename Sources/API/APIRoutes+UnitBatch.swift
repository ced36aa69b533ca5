import FleetAPIClient
import FleetUnit
import HTTPTypes
import Hummingbird
import Logging

/// `POST /fleet/v1/batch/units`: ours, not fleet's. The writes of many units in one request,
/// each made exactly as its own `PUT /fleet/v1/units/<name>` would make it, with one outcome
/// per unit. `fleetctl start` of 200 units sent 200 requests, and their HTTP, TLS and JSON
/// work on both ends cost more CPU than the writes themselves (about 40 ms in fleetctl and as
/// much in the fleetd that serves them, on a machine that is busy starting those units).
extension APIRoutes {
    /// The most units one batch may hold; fleetctl sends at most 500.
    static let unitBatchLimit = 1000
    /// The largest batch body (one unit's `PUT` takes up to 4 MiB); fleetctl cuts its batches at
    /// 8 MiB.
    static let unitBatchBodyLimit = 16 << 20
    /// Unit writes of one batch in flight at once: the store commits concurrent writes together,
    /// as it does for the concurrent `PUT`s fleetctl sent before.
    static let unitBatchConcurrency = 64

    func putUnitBatch(_ request: Request, logger: Logger) async throws -> Response {
        try Self.requireJSON(request)
        let batch = try await Self.decodedBody(UnitBatchRequestBody.self, of: request, upTo: Self.unitBatchBodyLimit)
        let names = try Self.batchNames(batch)
        let outcomes = await boundedMap(Array(zip(names, batch.units)), limit: Self.unitBatchConcurrency) { name, unit in
            do {
                return UnitBatchOutcome(name: name, code: Int(try await writeUnit(name, unit).code))
            } catch let error as APIError {
                return UnitBatchOutcome(name: name, code: error.status.code, message: error.message)
            } catch {
                // As the API answers a PUT that fails this way: 500, the cause in fleetd's log.
                logger.warning("fleet API unit write failed", metadata: ["unit.name": "\(name)", "error": "\(error)"])
                return UnitBatchOutcome(name: name, code: 500, message: "")
            }
        }
        return try json(UnitBatchOutcomes(results: outcomes))
    }

    /// Every unit's name, in order, once the batch's shape is checked: each unit has a name, no
    /// two the same (two writes of one unit in one batch would race), states are fleet's
    /// (`inactive`, `loaded`, `launched`), and at most ``unitBatchLimit`` units. A batch that
    /// breaks these is malformed and refused as a whole, before anything is written; what a
    /// unit's own `PUT` would refuse beyond that (its name, options, a template activated, a
    /// unit missing) is that unit's outcome.
    static func batchNames(_ batch: UnitBatchRequestBody) throws -> [String] {
        guard batch.units.count <= unitBatchLimit else {
            throw APIError(.badRequest, "a batch holds at most \(unitBatchLimit) units, this one \(batch.units.count)")
        }
        var seen = Set<String>()
        return try batch.units.enumerated().map { position, unit in
            guard let name = unit.name, !name.isEmpty else {
                throw APIError(.badRequest, "unit \(position + 1) of the batch has no name")
            }
            guard seen.insert(name).inserted else {
                throw APIError(.badRequest, "unit \(name) appears more than once in the batch")
            }
            for (field, value) in [("desiredState", unit.desiredState), ("currentState", unit.currentState)] {
                if let value, DesiredState(rawValue: value) == nil {
                    throw APIError(.badRequest, "unit \(position + 1) of the batch: invalid \(field) \"\(value)\": expected inactive, loaded or launched")
                }
            }
            return name
        }
    }

    /// `transform` over `items`, at most `limit` at once, the results in the items' order.
    func boundedMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int,
                                              _ transform: @escaping @Sendable (T) async -> R) async -> [R] {
        await withTaskGroup(of: (Int, R).self) { group in
            var results: [R?] = Array(repeating: nil, count: items.count)
            var next = 0
            func add() {
                let index = next, item = items[index]
                next += 1
                group.addTask { (index, await transform(item)) }
            }
            while next < min(limit, items.count) { add() }
            while let (index, result) = await group.next() {
                results[index] = result
                if next < items.count { add() }
            }
            return results.compactMap { $0 }
        }
    }
}

/// The body of `POST /fleet/v1/batch/units`, as the server reads it: each unit as a `PUT`'s
/// body, its name required.
struct UnitBatchRequestBody: Decodable {
    var units: [UnitRequestBody]
}
