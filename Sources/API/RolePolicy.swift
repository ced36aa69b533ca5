import FleetDiscovery
import FleetIdentity
import FleetRegistry
import FleetStore
import FleetStoreHTTP
import HTTPTypes

/// What each ``ClusterRole`` may do on fleetd's TCP listeners (issue 13 items 3 and 8):
///
/// * `admin`: everything.
/// * `machine`: read everything; write through the keys API, except
///   - another machine's presence (`<prefix>/machines/<id>`, metadata aside) and unit states
///     (`<prefix>/states/<unit>/<id>`), or any directory above them;
///   - the engine's keys (schedules `<prefix>/schedule/...`, placements `job/<unit>/target` and
///     `job/<unit>/unplaceable`) unless it holds the engine lease;
///   - the engine lease (`<prefix>/lease/...`) while another machine holds it, unless the
///     write is conditioned so the store itself refuses it (create-only, or on the lease
///     holding the writer's own ID): that is how a machine that does not lead tries to
///     acquire or renew the lease, and it must see the store's answer, not a 403.
///
///   The fleet API is read-only for a machine (status and journal are passed on with GET),
///   and a copy of the whole store (`GET /fleet/v1/store/backup`) is for an admin only.
/// * `discovery-reader`: read and watch `/discovery` through the keys API, read the API's
///   discovery document; nothing else.
///
/// Only a machine may send `X-Fleet-Forwarded` (the header makes a fleetd answer status and
/// journal from its own systemd). A pure function of the request and the current engine
/// leader, so every rule has a test; the caller reads the lease only when
/// ``dependsOnEngineLeader(_:method:path:)`` says the answer needs it.
public struct RolePolicy: Sendable {
    /// The registry's key prefix (`fleetd --prefix`, default `/fleet`), normalized.
    let prefix: String
    /// The directories that hold machines' own records (`<prefix>/machines`, `<prefix>/states`),
    /// and the prefix's segments: made once, as every write a machine sends is checked against
    /// them (a presence refresh every second from each machine).
    let recordRoots: [String]
    let prefixSegments: [Substring]

    public init(prefix: String) {
        self.prefix = (try? StoreKey.normalize(prefix)) ?? prefix
        recordRoots = [self.prefix + "/machines", self.prefix + "/states"].map { $0.replacingOccurrences(of: "//", with: "/") }
        prefixSegments = self.prefix.split(separator: "/")
    }

    /// Why `peer` may not make this request, or nil when it may. `engineLeader` is the machine
    /// ID the engine lease holds now (nil: nobody leads); it matters only where
    /// ``dependsOnEngineLeader(_:method:path:)`` says so.
    /// `query` is the request's query string (the keys API's write conditions are read from it).
    public func denial(for peer: PeerIdentity, method: HTTPRequest.Method, path: String, query: String?,
                       forwarded: Bool, engineLeader: String?) -> String? {
        if forwarded && peer.role != .machine { return "only a machine may pass a request on (X-Fleet-Forwarded)" }
        let isKeys = Self.isKeysPath(path)
        switch peer.role {
        case .admin:
            return nil
        case .machine:
            if Self.isBackupPath(path) { return "only an admin may take a backup of the store" }
            if !isKeys { return Self.isRead(method) ? nil : "a machine may only read the fleet API" }
            if Self.isRead(method) { return nil }
            guard let key = Self.storeKey(path) else { return "the key is not valid" }
            return writable(key: key, by: peer.machineID ?? "", method: method,
                            conditions: V2Parameters(query: query, formBody: nil), engineLeader: engineLeader)
        case .discoveryReader:
            let readsDiscovery = Self.isRead(method) && (isKeys
                ? Self.storeKey(path).map(DiscoveryKeys.standard.contains) ?? false
                : path == "/fleet/v1/discovery" || path == "/v1-alpha/discovery")
            return readsDiscovery ? nil : "a discovery reader may only read /discovery"
        }
    }

    /// Why `peer` may not send this batch of writes (`POST /v2/batch`), or nil when it may:
    /// each write is judged as its own request would be (a machine writes what it may write
    /// through the keys API, conditions read from the write's query string alone), and one
    /// write refused refuses the batch. A path-only check
    /// (``denial(for:method:path:query:forwarded:engineLeader:)``) refuses a machine's batch:
    /// the writes must be read first.
    public func denial(for peer: PeerIdentity, batch: [KeysBatchWrite], engineLeader: String?) -> String? {
        switch peer.role {
        case .admin:
            return nil
        case .discoveryReader:
            return "a discovery reader may only read /discovery"
        case .machine:
            for (position, write) in batch.enumerated() {
                if let reason = writable(key: write.key, by: peer.machineID ?? "", method: write.method,
                                         conditions: V2Parameters(query: write.query, formBody: nil),
                                         engineLeader: engineLeader) {
                    return "write \(position + 1) of the batch: \(reason)"
                }
            }
            return nil
        }
    }

    /// Whether ``denial(for:batch:engineLeader:)`` depends on who holds the engine lease.
    public func dependsOnEngineLeader(_ peer: PeerIdentity, batch: [KeysBatchWrite]) -> Bool {
        peer.role == .machine && batch.contains { area(of: $0.key) != nil }
    }

    /// Whether ``denial(for:method:path:query:forwarded:engineLeader:)`` depends on who holds the
    /// engine lease: a machine writing an engine key or the lease. Everything else is decided
    /// without reading the store.
    public func dependsOnEngineLeader(_ peer: PeerIdentity, method: HTTPRequest.Method, path: String) -> Bool {
        guard peer.role == .machine, !Self.isRead(method), Self.isKeysPath(path),
              let key = Self.storeKey(path) else { return false }
        return area(of: key) != nil
    }

    /// Why the machine `id` may not write `key` (with `method` and the keys API's
    /// `conditions`) while `engineLeader` holds the lease, or nil when it may.
    func writable(key: String, by id: String, method: HTTPRequest.Method, conditions: V2Parameters,
                  engineLeader: String?) -> String? {
        if let reason = othersRecord(key: key, id: id) { return reason }
        switch area(of: key) {
        case .engine? where engineLeader != id:
            return "a machine may not write \(key): only the engine leader writes schedules and placements"
                + " (the lease is \(engineLeader.map { "machine \($0)'s" } ?? "free"))"
        case .lease? where engineLeader != nil && engineLeader != id
            && !(key == leaseKey && failsUnlessOwn(method: method, conditions, id: id)):
            return "a machine may not write \(key): machine \(engineLeader ?? "") holds the engine lease"
        default:
            return nil
        }
    }

    /// Whether a write of the lease can only succeed if the lease is free or `id`'s own: a
    /// create (`prevExist=false`), or a write or delete on the lease holding `id` (`prevValue`,
    /// or our guard on the lease key with `guardValue`). The engine acquires, renews and
    /// releases the lease only so. Only the query string counts: it is read first by the keys
    /// API, so a form body cannot say otherwise (a condition only in the body is refused here).
    func failsUnlessOwn(method: HTTPRequest.Method, _ conditions: V2Parameters, id: String) -> Bool {
        guard method == .put || method == .delete else { return false }
        if method == .put, (try? conditions.bool("prevExist")) == false { return true }
        if conditions.string("prevValue") == id { return true }
        let guardKey = conditions.string("guardKey").flatMap { try? StoreKey.normalize($0) }
        return guardKey == leaseKey && conditions.string("guardValue") == id
    }

    /// Why `key` is another machine's presence or states (or a directory that holds them), for
    /// the machine `id`; nil when it is not.
    func othersRecord(key: String, id: String) -> String? {
        if recordRoots.contains(where: { key == "/" || $0 == key || $0.hasPrefix(key + "/") }) {
            return "a machine may not write \(key): it holds other machines' records"
        }
        guard let rest = relative(key), rest.count >= 2 else { return nil }  // machines|states, <id>|<unit>, ...
        switch rest[0] {
        case "machines" where rest[1] != id && !(rest.count > 2 && rest[2] == "metadata"):
            return "a machine may not write another machine's presence"
        case "states" where rest.count < 3 || rest[2] != id:
            return "a machine may not write another machine's unit states"
        default:
            return nil
        }
    }

    /// The keys whose writes depend on the engine lease.
    enum LeaderArea {
        /// Written by the engine leader only: `schedule` (and below), `job/<unit>/target` and
        /// `job/<unit>/unplaceable` (and below). `job/<unit>` itself is not: deleting it is
        /// how a unit is destroyed, which a machine does for a local admin (its API socket).
        case engine
        /// `lease` and below: taken by whoever finds it free, kept by its holder.
        case lease
    }

    /// The engine lease's key under this prefix.
    var leaseKey: String { RegistryKeys(prefix: prefix).engineLease }

    func area(of key: String) -> LeaderArea? {
        guard let rest = relative(key), let first = rest.first else { return nil }
        switch first {
        case "schedule": return .engine
        case "lease": return .lease
        case "job" where rest.count >= 3 && (rest[2] == "target" || rest[2] == "unplaceable"): return .engine
        default: return nil
        }
    }

    /// The segments of `key` below the prefix; nil when it is not below it.
    func relative(_ key: String) -> [Substring]? {
        let parts = key.split(separator: "/")
        guard parts.count > prefixSegments.count, parts.starts(with: prefixSegments) else { return nil }
        return Array(parts.dropFirst(prefixSegments.count))
    }

    static func isRead(_ method: HTTPRequest.Method) -> Bool { method == .get || method == .head }

    /// `GET /fleet/v1/store/backup`: every key of the store in one file, secrets included.
    static func isBackupPath(_ path: String) -> Bool {
        APIRoutes.Resource(path: path) == .storeBackup
    }

    static func isKeysPath(_ path: String) -> Bool { path == "/v2/keys" || path.hasPrefix("/v2/keys/") }

    /// The normalized store key a keys-API path names, as ``KeysAPI`` reads it; nil when it
    /// is not a valid key (the request is refused).
    static func storeKey(_ path: String) -> String? {
        try? StoreKey.normalize(KeysAPI.key(of: path))
    }
}
