import FleetAPIClient
import FleetDiscovery
import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird

/// `/fleet/v1/units` and `/fleet/v1/units/<name>`.
extension APIRoutes {
    func listUnits(_ request: Request) async throws -> Response {
        let token = try pageToken(request)
        async let units = registry.units()
        async let states = registry.states()
        // The page is cut from the unit records (sorted by name), so only its units' contents
        // are read and only its entities built: fleetctl reads every page every 50 ms while it
        // waits for a start.
        let page = token.page(of: try await units)
        let entities = try await entities(page.items, states: try await states)
        return jsonBody(UnitPage(units: entities, nextPageToken: page.next).jsonBytes)
    }

    /// The API's view of `units`, in their order. Every unit's contents at once, each distinct
    /// hash read once and then cached: one read per unit per listing was a store round trip
    /// each on etcd (fleetctl polls the listing).
    func entities(_ units: [UnitRecord], states: [UnitStateRecord]) async throws -> [UnitEntity] {
        let files = try await unitFiles.files(units.map(\.hash), from: registry)
        let current = CurrentState(states: states)
        return units.map { entity($0, file: files[$0.hash], current: current) }
    }

    func entity(_ unit: UnitRecord, file: UnitFile?, current: CurrentState) -> UnitEntity {
        let isGlobal = file.map { XFleetRequirements(unit: unit.name, file: $0).isGlobal } ?? false
        return UnitEntity(name: unit.name.rawValue, options: file?.options ?? [],
                          desiredState: unit.desiredState.rawValue,
                          currentState: isGlobal ? nil : current.of(unit).rawValue,
                          machineID: unit.target?.rawValue, unplaceableReason: unit.unplaceableReason)
    }

    func getUnit(_ raw: String) async throws -> UnitEntity {
        guard let name = try? UnitName(raw), let unit = try await registry.unit(name) else {
            throw APIError(.notFound, "unit does not exist")
        }
        async let file = unitFiles.file(unit.hash, from: registry)
        async let states = registry.states()
        return entity(unit, file: try await file, current: CurrentState(states: try await states))
    }

    func deleteUnit(_ raw: String) async throws -> Response {
        guard let name = try? UnitName(raw), try await registry.destroyUnit(name) else {
            throw APIError(.notFound, "unit does not exist")
        }
        return Response(status: .noContent)
    }

    func putUnit(_ raw: String, _ request: Request) async throws -> Response {
        try Self.requireJSON(request)
        let entity = try await Self.decodedBody(UnitRequestBody.self, of: request, upTo: Self.unitBodyLimit)
        // fleet takes the name from the URL when the body has none; a different one is refused.
        if let bodyName = entity.name, bodyName != raw {
            throw APIError(.badRequest, "name in URL \"\(raw)\" differs from unit name in request body \"\(bodyName)\"")
        }
        return Response(status: try await writeUnit(raw, entity))
    }

    /// The largest body of one unit's `PUT`.
    static let unitBodyLimit = 4 << 20

    /// One unit's write as `PUT /fleet/v1/units/<raw>` makes it (a batch makes each of its
    /// units' writes the same way): creates the unit, replaces its contents or sets its desired
    /// state, and answers `201 Created` or `204 No Content`; a refusal is an ``APIError``.
    func writeUnit(_ raw: String, _ entity: UnitRequestBody) async throws -> HTTPResponse.Status {
        let name: UnitName
        do { name = try UnitName(raw) } catch { throw APIError(.badRequest, error.description) }
        if let reason = name.reservedReason { throw APIError(.badRequest, reason) }
        var desired: DesiredState?
        if let text = entity.desiredState {
            guard let state = DesiredState(rawValue: text) else {
                throw APIError(.badRequest, "invalid desiredState \"\(text)\": expected inactive, loaded or launched")
            }
            desired = state
        }
        // currentState is derived and ignored on input, but a value that is no state is refused.
        if let current = entity.currentState, DesiredState(rawValue: current) == nil {
            throw APIError(.badRequest, "invalid currentState \"\(current)\": expected inactive, loaded or launched")
        }
        if name.isTemplate, let desired, desired != .inactive {
            throw APIError(.badRequest, "cannot activate template \"\(name)\"")
        }
        let options = entity.options ?? []
        let file = options.isEmpty ? nil : try Self.unitFile(options)
        if let file {
            do {
                try XFleetRequirements(unit: name, file: file).validate()
            } catch {
                throw APIError(.badRequest, error.description)
            }
            // A number the agent would have to clamp (or that would trap a health check) is
            // refused here, where fleetctl shows the message, not found later on some machine.
            if let refusal = DiscoverySpec(file: file).refusals.first {
                throw APIError(.badRequest, "invalid [X-Discovery] option: \(refusal)")
            }
        }
        // Whether the contents are stored is read alongside the unit itself: a new unit needs
        // it next, and one round trip fewer per created unit counts on a networked store (etcd).
        async let existingUnit = registry.unit(name)
        async let contentsStored = Self.contentsStored(file, in: registry)
        if let existing = try await existingUnit {
            if let file, file.hash != existing.hash {
                // New contents without a desired state keep the unit's own: replacing what a
                // unit runs must never stop it as a side effect.
                try await registry.replaceUnit(name, file: file, desiredState: desired ?? existing.desiredState)
                return .created
            }
            guard let desired else { throw APIError(.conflict, "must provide DesiredState to update existing unit") }
            try await registry.setDesiredState(name, desired)
            return .noContent
        }
        guard let file else { throw APIError(.conflict, "unit does not exist and options field empty") }
        do {
            try await registry.createUnit(name, file: file, desiredState: desired ?? .inactive,
                                          contentsStored: try await contentsStored)
        } catch let error as StoreError where error.code == .nodeExists {
            throw APIError(.conflict, "unit \(name) was created concurrently; retry")
        }
        return .created
    }

    /// Whether `file`'s contents are stored (nil without a file).
    static func contentsStored(_ file: UnitFile?, in registry: Registry) async throws -> Bool? {
        guard let file else { return nil }
        return try await registry.hasUnitFile(file.hash)
    }

    /// Options must make a valid unit file: the same rules as parsing one from text, and the
    /// text written from them must read back as exactly these options (a newline in a value
    /// would otherwise smuggle extra options, even `[Service]` `ExecStartPre=`, into the file).
    static func unitFile(_ options: [UnitOption]) throws -> UnitFile {
        for option in options where option.section.isEmpty || option.name.isEmpty {
            throw APIError(.badRequest, "invalid unit option: section and name must not be empty")
        }
        let file = UnitFile(options: options)
        do {
            try file.validate()
        } catch {
            throw APIError(.badRequest, "invalid unit options: \(error)")
        }
        return file
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}
