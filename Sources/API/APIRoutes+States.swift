import FleetAPIClient
import FleetRegistry
import Foundation
import Hummingbird

/// `/fleet/v1/state` (filtered by `machineID` and `unitName`, exact match) and `/fleet/v1/state/<name>`.
extension APIRoutes {
    func listStates(_ request: Request) async throws -> Response {
        let token = try pageToken(request)
        let query = request.uri.queryParameters
        let machineID = query.get("machineID"), unitName = query.get("unitName")
        let states = try await registry.states()
            .filter { machineID == nil || $0.machineID.rawValue == machineID }
            .filter { unitName == nil || $0.name.rawValue == unitName }
        let page = token.page(of: states)
        return jsonBody(UnitStatePage(states: page.items.map(Self.entity), nextPageToken: page.next).jsonBytes)
    }

    /// The first published state of the unit (states are sorted by unit, then machine).
    func getState(_ name: String) async throws -> UnitStateEntity {
        guard let state = try await registry.states().first(where: { $0.name.rawValue == name }) else {
            throw APIError(.notFound, "unit state does not exist")
        }
        return Self.entity(state)
    }

    static func entity(_ state: UnitStateRecord) -> UnitStateEntity {
        UnitStateEntity(name: state.name.rawValue, hash: state.hash.hex, machineID: state.machineID.rawValue,
                        systemdLoadState: state.loadState, systemdActiveState: state.activeState.rawValue,
                        systemdSubState: state.subState)
    }
}
