import FleetUnit

/// A live machine, as its agent publishes it under `machines/<id>/object` with a TTL.
public struct MachineRecord: Sendable, Hashable, Codable {
    public var id: MachineID
    public var publicIP: String
    public var metadata: [String: String]
    /// Not in fleet: where other fleetds reach this machine's API (`http://10.0.0.2:4002`), to
    /// pass on `status` and `journal` requests for its units. Nil when it serves none on TCP.
    public var apiURL: String?
    /// Not in fleet: the token of the fleetd that holds this presence (``MachineSession``), so
    /// a second machine started with the same ID is told apart from a restart of this one.
    public var session: String?

    public init(id: MachineID, publicIP: String, metadata: [String: String] = [:], apiURL: String? = nil,
                session: String? = nil) {
        self.id = id
        self.publicIP = publicIP
        self.metadata = metadata
        self.apiURL = apiURL
        self.session = session
    }

    enum CodingKeys: String, CodingKey {
        case id = "ID", publicIP = "PublicIP", metadata = "Metadata", apiURL = "APIURL", session = "Session"
    }
}

/// A unit in the registry: its contents (by hash), what it should do and where it was placed.
public struct UnitRecord: Sendable, Hashable {
    public var name: UnitName
    public var hash: UnitHash
    public var desiredState: DesiredState
    /// The machine the engine placed it on, if any.
    public var target: MachineID?
    /// Why the engine could not place it (which constraint failed where), while that is so.
    public var unplaceableReason: String?

    public init(name: UnitName, hash: UnitHash, desiredState: DesiredState, target: MachineID? = nil,
                unplaceableReason: String? = nil) {
        self.name = name
        self.hash = hash
        self.desiredState = desiredState
        self.target = target
        self.unplaceableReason = unplaceableReason
    }
}

/// What an agent last saw systemd report for a unit on its machine, published with a TTL.
public struct UnitStateRecord: Sendable, Hashable, Codable {
    public var name: UnitName
    public var machineID: MachineID
    public var hash: UnitHash
    public var loadState: String
    public var activeState: ActiveState
    public var subState: String
    /// How far the agent has taken the unit: `loaded` or `launched` (fleet's job state).
    public var jobState: DesiredState

    public init(name: UnitName, machineID: MachineID, hash: UnitHash, loadState: String, activeState: ActiveState,
                subState: String, jobState: DesiredState) {
        self.name = name
        self.machineID = machineID
        self.hash = hash
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
        self.jobState = jobState
    }
}

/// The engine's instruction to one machine: run this unit (these contents) in this state.
///
/// Kept per machine (`schedule/<machine>/<unit>`) so that each agent watches only its own
/// assignments instead of every change in the cluster (what stopped fleet near 100 machines).
public struct Assignment: Sendable, Hashable, Codable {
    public var hash: UnitHash
    public var desiredState: DesiredState

    public init(hash: UnitHash, desiredState: DesiredState) {
        self.hash = hash
        self.desiredState = desiredState
    }
}

/// The body of `job/<unit>/object`.
struct JobObject: Codable, Sendable {
    var name: UnitName
    var hash: UnitHash
}
