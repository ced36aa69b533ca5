import FleetUnit

/// How a unit is named in discovery: `web@3.service` is instance `3` of service `web`;
/// a unit without an instance (`db.service`) is the single instance `db` of service `db`.
///
/// This is the naming rule every discovery front end (DNS, HTTP watch, mDNS) shares; records
/// live under `/discovery/<service>/<instance>` in the store.
public struct ServiceInstance: Hashable, Sendable, CustomStringConvertible {
    public var service: String
    public var instance: String

    public init(service: String, instance: String) {
        self.service = service
        self.instance = instance
    }

    public init(unit: UnitName) {
        service = unit.prefix
        instance = unit.instance.flatMap { $0.isEmpty ? nil : $0 } ?? unit.prefix
    }

    /// The store key of this instance's record below `root` (default `/discovery`).
    public func key(root: String = "/discovery") -> String { "\(root)/\(service)/\(instance)" }

    public var description: String { "\(instance).\(service)" }
}
