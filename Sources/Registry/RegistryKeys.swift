import FleetUnit
import FleetStore

/// Where fleet keeps each thing in the store, all under one prefix (default `/fleet`).
///
/// ```
/// job/<unit>/object          {"name","hash"}              the unit and its contents' hash
/// job/<unit>/target-state    inactive|loaded|launched     desired state (fleetctl)
/// job/<unit>/target          <machine id>                 placement (engine, create-only)
/// job/<unit>/unplaceable     why it cannot be placed      (engine, while that is so)
/// unit/<sha1>                normalized unit file text    content-addressed, shared
/// schedule/<machine>/<unit>  {"hash","desiredState"}      what each agent runs (engine)
/// states/<unit>/<machine>    systemd state + job state    published by agents, attached to the machine's presence (TTL on an older store)
/// machines/<id>/object       {"ID","PublicIP","Metadata","APIURL","Session"} presence, TTL (the last two ours)
/// machines/<id>/metadata/<k> value ("" = tombstone)       dynamic metadata (API PATCH), no TTL
/// lease/engine-leader        <machine id>                 engine leadership, TTL
/// cluster                    {"created","by"}             written once, when the cluster is made
/// ```
public struct RegistryKeys: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "/fleet") {
        self.prefix = (try? StoreKey.normalize(prefix)) ?? "/fleet"
    }

    public var jobs: String { prefix + "/job" }
    public func job(_ unit: UnitName) -> String { jobs + "/" + unit.rawValue }
    public func jobObject(_ unit: UnitName) -> String { job(unit) + "/object" }
    public func targetState(_ unit: UnitName) -> String { job(unit) + "/target-state" }
    public func target(_ unit: UnitName) -> String { job(unit) + "/target" }
    public func unplaceable(_ unit: UnitName) -> String { job(unit) + "/unplaceable" }
    public var unitFiles: String { prefix + "/unit" }
    public func unitFile(_ hash: UnitHash) -> String { unitFiles + "/" + hash.hex }
    public var schedules: String { prefix + "/schedule" }
    public func schedule(_ machine: MachineID) -> String { schedules + "/" + machine.rawValue }
    public func assignment(_ machine: MachineID, _ unit: UnitName) -> String {
        schedule(machine) + "/" + unit.rawValue
    }
    public var states: String { prefix + "/states" }
    public func states(_ unit: UnitName) -> String { states + "/" + unit.rawValue }
    public func state(_ unit: UnitName, _ machine: MachineID) -> String { states(unit) + "/" + machine.rawValue }
    public var machines: String { prefix + "/machines" }
    public func machine(_ id: MachineID) -> String { machines + "/" + id.rawValue + "/object" }
    public func machineMetadata(_ id: MachineID, _ key: String) -> String {
        machines + "/" + id.rawValue + "/metadata/" + key
    }
    public var engineLease: String { prefix + "/lease/engine-leader" }
    /// The cluster's birth certificate: a store without it holds no fleet cluster (see
    /// ``Registry/ensureCluster(create:by:)``).
    public var cluster: String { prefix + "/cluster" }
}
