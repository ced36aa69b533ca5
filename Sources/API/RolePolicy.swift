import FleetDiscovery
import FleetIdentity
import FleetStore
import FleetStoreHTTP
import HTTPTypes

/// What each ``ClusterRole`` may do on fleetd's TCP listeners (issue 13 item 3, first cut):
///
/// * `admin`: everything.
/// * `machine`: read everything; write through the keys API, except another machine's presence
///   (`<prefix>/machines/<id>`, metadata aside) and unit states (`<prefix>/states/<unit>/<id>`),
///   or any directory above them; the fleet API read-only (status and journal are passed on
///   with GET). Schedules stay writable: every fleetd may hold the engine lease and place
///   units on any machine.
/// * `discovery-reader`: read and watch `/discovery` through the keys API, read the API's
///   discovery document; nothing else.
///
/// Only a machine may send `X-Fleet-Forwarded` (the header makes a fleetd answer status and
/// journal from its own systemd). A pure function of the request, so every rule has a test.
public struct RolePolicy: Sendable {
    /// The registry's key prefix (`fleetd --prefix`, default `/fleet`), normalized.
    let prefix: String

    public init(prefix: String) {
        self.prefix = (try? StoreKey.normalize(prefix)) ?? prefix
    }

    /// Why `peer` may not make this request, or nil when it may.
    public func denial(for peer: PeerIdentity, method: HTTPRequest.Method, path: String, forwarded: Bool) -> String? {
        if forwarded && peer.role != .machine { return "only a machine may pass a request on (X-Fleet-Forwarded)" }
        let reads: Set<HTTPRequest.Method> = [.get, .head]
        let isRead = reads.contains(method)
        let isKeys = path == "/v2/keys" || path.hasPrefix("/v2/keys/")
        switch peer.role {
        case .admin:
            return nil
        case .machine:
            if !isKeys { return isRead ? nil : "a machine may only read the fleet API" }
            if isRead { return nil }
            guard let key = Self.storeKey(path) else { return "the key is not valid" }
            return writable(key: key, by: peer.machineID ?? "")
        case .discoveryReader:
            let readsDiscovery = isRead && (isKeys
                ? Self.storeKey(path).map(DiscoveryKeys.standard.contains) ?? false
                : path == "/fleet/v1/discovery" || path == "/v1-alpha/discovery")
            return readsDiscovery ? nil : "a discovery reader may only read /discovery"
        }
    }

    /// Why the machine `id` may not write `key` (another machine's presence or states, or a
    /// directory that holds them), or nil when it may.
    func writable(key: String, by id: String) -> String? {
        let roots = [prefix + "/machines", prefix + "/states"].map { $0.replacingOccurrences(of: "//", with: "/") }
        if roots.contains(where: { key == "/" || $0 == key || $0.hasPrefix(key + "/") }) {
            return "a machine may not write \(key): it holds other machines' records"
        }
        let base = prefix.split(separator: "/")
        let parts = key.split(separator: "/")
        guard parts.count >= base.count + 2, parts.starts(with: base) else { return nil }
        let rest = Array(parts.dropFirst(base.count))  // machines|states, <id>|<unit>, ...
        switch rest[0] {
        case "machines" where rest[1] != id && !(rest.count > 2 && rest[2] == "metadata"):
            return "a machine may not write another machine's presence"
        case "states" where rest.count < 3 || rest[2] != id:
            return "a machine may not write another machine's unit states"
        default:
            return nil
        }
    }

    /// The normalized store key a keys-API path names, as ``KeysAPI`` reads it; nil when it
    /// is not a valid key (the request is refused).
    static func storeKey(_ path: String) -> String? {
        try? StoreKey.normalize(KeysAPI.key(of: path))
    }
}
