import FleetUnit

/// The version fleetd and fleetctl report (`Server: fleetd/<version>`, `fleetctl version`).
public enum FleetVersion {
    public static let current = "0.1.0"
}

/// fleet's API v1 `Unit` entity. Empty fields are omitted from the JSON, as fleet does.
public struct UnitEntity: Codable, Sendable, Hashable {
    public var name: String
    public var options: [UnitOption]?
    public var desiredState: String?
    public var currentState: String?
    public var machineID: String?
    /// Not in fleet: why the engine cannot place the unit (which constraint failed where).
    public var unplaceableReason: String?

    public init(name: String, options: [UnitOption]? = nil, desiredState: String? = nil,
                currentState: String? = nil, machineID: String? = nil, unplaceableReason: String? = nil) {
        self.name = name
        self.options = options
        self.desiredState = desiredState
        self.currentState = currentState
        self.machineID = machineID
        self.unplaceableReason = unplaceableReason
    }
}

/// fleet's API v1 `UnitState` entity: what systemd reports for a unit on one machine.
public struct UnitStateEntity: Codable, Sendable, Hashable {
    public var name: String
    public var hash: String?
    public var machineID: String?
    public var systemdLoadState: String?
    public var systemdActiveState: String?
    public var systemdSubState: String?

    public init(name: String, hash: String?, machineID: String?, systemdLoadState: String?,
                systemdActiveState: String?, systemdSubState: String?) {
        self.name = name
        self.hash = hash
        self.machineID = machineID
        self.systemdLoadState = systemdLoadState
        self.systemdActiveState = systemdActiveState
        self.systemdSubState = systemdSubState
    }
}

/// fleet's API v1 `Machine` entity.
public struct MachineEntity: Codable, Sendable, Hashable {
    public var id: String
    public var primaryIP: String?
    public var metadata: [String: String]?

    public init(id: String, primaryIP: String?, metadata: [String: String]?) {
        self.id = id
        self.primaryIP = primaryIP
        self.metadata = metadata
    }
}

package struct UnitPage: Codable {
    package var units: [UnitEntity]
    package var nextPageToken: String?
    package init(units: [UnitEntity], nextPageToken: String?) { self.units = units; self.nextPageToken = nextPageToken }
}

package struct UnitStatePage: Codable {
    package var states: [UnitStateEntity]
    package var nextPageToken: String?
    package init(states: [UnitStateEntity], nextPageToken: String?) { self.states = states; self.nextPageToken = nextPageToken }
}

package struct MachinePage: Codable {
    package var machines: [MachineEntity]
    package var nextPageToken: String?
    package init(machines: [MachineEntity], nextPageToken: String?) { self.machines = machines; self.nextPageToken = nextPageToken }
}

/// Not in fleet: the body of `POST /fleet/v1/batch/units`, the writes of many units in one
/// request, each as its own `PUT /fleet/v1/units/<name>` would make it (every unit named).
package struct UnitBatch: Codable {
    package var units: [UnitEntity]
    package init(units: [UnitEntity]) { self.units = units }
}

/// The answer to a ``UnitBatch``: one outcome per unit, in the request's order.
package struct UnitBatchOutcomes: Codable {
    package var results: [UnitBatchOutcome]
    package init(results: [UnitBatchOutcome]) { self.results = results }
}

/// What one unit's own `PUT` would have answered: its status code (201, 204, or an error's)
/// and, for an error, fleet's message.
package struct UnitBatchOutcome: Codable, Equatable {
    package var name: String
    package var code: Int
    package var message: String?
    package init(name: String, code: Int, message: String? = nil) { self.name = name; self.code = code; self.message = message }
}

/// fleet's error body: `{"error":{"code":404,"message":"unit does not exist"}}`.
package struct ErrorBody: Codable {
    package struct Inner: Codable {
        package var code: Int
        package var message: String
        package init(code: Int, message: String) { self.code = code; self.message = message }
    }
    package var error: Inner
    package init(error: Inner) { self.error = error }
}

/// Not in fleet: `GET /fleet/v1/units/<name>/status`, the unit as `systemctl status` shows it
/// on the machine running it, answered by that machine's fleetd.
public struct UnitStatusEntity: Codable, Sendable, Hashable {
    public var name: String
    public var machineID: String
    /// systemctl's exit status: 0 active, 3 not active, 4 unknown to systemd.
    public var exitStatus: Int32
    /// `systemctl status -l` text, the unit's last journal lines included.
    public var text: String

    public init(name: String, machineID: String, exitStatus: Int32, text: String) {
        self.name = name
        self.machineID = machineID
        self.exitStatus = exitStatus
        self.text = text
    }
}

// The typed values behind the wire's strings: both sides compare these, never the strings.
extension UnitEntity {
    /// A unit to create or change with this desired state.
    public init(name: String, options: [UnitOption]? = nil, desiredState: DesiredState) {
        self.init(name: name, options: options, desiredState: desiredState.rawValue)
    }

    /// The desired state; nil when absent or not one fleet knows.
    public var desired: DesiredState? { desiredState.flatMap(DesiredState.init(rawValue:)) }

    /// How far the unit's agent has taken it; nil when absent or not one fleet knows.
    public var current: DesiredState? { currentState.flatMap(DesiredState.init(rawValue:)) }
}

extension UnitStateEntity {
    /// systemd's active state of the unit on its machine; nil when not reported.
    public var activeState: ActiveState? { systemdActiveState.map(ActiveState.init(rawValue:)) }
}
