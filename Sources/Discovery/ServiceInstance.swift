import FleetUnit

/// How a unit is named in discovery: `web@3.service` is instance `3` of service `web`. A unit
/// without an instance (`db.service`, or a global unit running on many machines) is service
/// `db` with one instance per machine, named by the machine's short ID.
///
/// Records live under `/discovery/<service>/<instance>` (``DiscoveryKeys``); every front end
/// (DNS, HTTP watch, mDNS, `fleetctl discover`) uses this naming.
public struct ServiceInstance: Hashable, Sendable, CustomStringConvertible {
    public var service: String
    public var instance: String

    public init(service: String, instance: String) {
        self.service = service
        self.instance = instance
    }

    /// - Parameters:
    ///   - service: the `[X-Discovery] Name=` override, if any.
    ///   - machineName: the instance name for units without one.
    public init(unit: UnitName, service: String? = nil, machineName: String) {
        self.service = service ?? unit.prefix
        instance = unit.instance.flatMap { $0.isEmpty ? nil : $0 } ?? machineName
    }

    public var description: String { "\(instance).\(service)" }
}
