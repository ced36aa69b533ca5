/// Where discovery records live in the store: `<root>/<service>/<instance>`, below `/discovery`
/// unless configured.
///
/// The one place that spells this layout: the registrar writes with it; DNS, mDNS, the API's
/// role policy and `fleetctl discover` read with it. A front end given another root (fleet-dns's
/// `--discovery-prefix`) makes its own value instead of joining strings.
public struct DiscoveryKeys: Hashable, Sendable {
    /// The root fleet's registrars write below.
    public static let standard = DiscoveryKeys(root: "/discovery")

    /// The directory holding every service's records.
    public let root: String

    public init(root: String) { self.root = root }

    /// The directory of one service's instances.
    public func service(_ service: String) -> String { "\(root)/\(service)" }

    /// The key of one instance's record.
    public func record(_ instance: ServiceInstance) -> String { "\(root)/\(instance.service)/\(instance.instance)" }

    /// The key a record is stored under (its own service and instance).
    public func record(of record: DiscoveryRecord) -> String {
        self.record(ServiceInstance(service: record.service, instance: record.instance))
    }

    /// Whether `key` is the root or anything below it (what a discovery reader may read).
    public func contains(_ key: String) -> Bool { key == root || key.hasPrefix(root + "/") }

    /// Whether `key` names a record: exactly two levels below the root.
    public func isRecordKey(_ key: String) -> Bool {
        let base = root == "/" ? "" : root
        guard key.hasPrefix(base + "/") else { return false }
        return key.dropFirst(base.count + 1).split(separator: "/", omittingEmptySubsequences: false).count == 2
    }
}
