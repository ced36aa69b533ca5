import FleetStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// fleet's store on an etcd v3 cluster, spoken through etcd's gRPC API over HTTP/2 (`EtcdGRPC`)
/// or, as ``Configuration/transport`` says, its JSON gateway (`/v3/kv/...`, `/v3/watch`,
/// `/v3/lease/...`) over keep-alive HTTP/1.1; both carry the same messages (EtcdWire).
///
/// The v2 model of ``KeyValueStore`` maps onto v3 like this:
/// - The store index is etcd's revision, one counter for the whole cluster, so indexes are
///   monotonic and agree between every fleetd using the cluster. A node's `createdIndex` and
///   `modifiedIndex` are its key's `create_revision` and `mod_revision`.
/// - Keys live under ``Configuration/keyPrefix``. v3 is flat, so directories are implied by the
///   keys below them (see `EtcdKeyspace`); a directory made explicitly is a marker key.
/// - Every write is one txn whose compares carry both the caller's condition (`prevExist`,
///   `prevValue`, `prevIndex`) and the tree's rules (no value below a value, no value over a
///   directory), so a write is atomic however many fleetds race.
/// - A TTL is a lease per key; refreshing keeps that lease alive, which etcd does without a new
///   revision, so watchers are not woken.
/// - Watches are v3 watches from a revision, resumed on another member after a failure.
///
/// Where this differs from ``InMemoryStore`` (documented at each place, collected in
/// `Docs.docc/FleetStoreEtcd.md`): empty implied directories vanish; directory TTLs are refused;
/// watchers see one delete per key when a directory is deleted, `set` for every put, and
/// `expire` on a best-effort basis; refresh does not move `modifiedIndex`.
///
/// Run it in fleetd's `ServiceGroup`: `run()` waits for shutdown, then ends the watches and closes
/// the connections. Without a group, call ``shutdown()`` when done.
public final class EtcdStore: KeyValueStore, Service {
    public let configuration: Configuration
    let keyspace: EtcdKeyspace
    let gateway: EtcdGateway
    /// Sends value writes, batching those that come in while others are on their way.
    let writeBatcher: EtcdTxnBatcher
    /// Sends single-key reads (`get`), batched the same way, never with writes.
    let readBatcher: EtcdTxnBatcher
    let logger: Logger
    let watches = Mutex(WatchRegistry())
    /// The smallest lease TTL the cluster grants, learned from grants it rounded up; a refresh
    /// asking for less than it is satisfied by a keep-alive (see `EtcdStore+Lease`).
    let leaseTTLFloor = Mutex<Int64>(0)
    /// The owners of attached keys as last read (`EtcdStore+Attach`), so attaching a machine's
    /// states costs one txn, not a read and a txn; a stale entry fails the txn's compare and is
    /// read again.
    let owners = Mutex<[String: EtcdOwner]>([:])
    /// Range results are read in pages of this many keys, all at the first page's revision, so
    /// a big directory neither exceeds etcd's message limits nor tears.
    let pageSize: Int

    struct WatchRegistry {
        var tasks: [UInt64: Task<Void, Never>] = [:]
        var nextID: UInt64 = 0
        var isShutDown = false
    }

    /// - Parameters:
    ///   - configuration: the members, the key prefix, TLS and timeouts.
    ///   - logger: for failovers and watch reconnects (debug and info only); silent by default.
    /// - Throws: when the TLS files cannot be read, or no endpoint is given.
    public convenience init(configuration: Configuration, logger: Logger = EtcdStore.disabledLogger) throws {
        try self.init(configuration: configuration, logger: logger, pageSize: 5000)
    }

    init(configuration: Configuration, logger: Logger, pageSize: Int) throws {
        self.configuration = configuration
        self.keyspace = EtcdKeyspace(prefix: configuration.keyPrefix)
        self.logger = logger
        self.pageSize = pageSize
        let gateway = try EtcdGateway(configuration: configuration, logger: logger)
        self.gateway = gateway
        // Reads go at once: a listing waits on them, and a read costs the members no raft entry.
        self.writeBatcher = EtcdTxnBatcher(gateway: gateway, linger: .milliseconds(2))
        self.readBatcher = EtcdTxnBatcher(gateway: gateway)
    }

    public static let disabledLogger = Logger(label: "fleet.store.etcd", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Waits for graceful shutdown (or cancellation), then ends every watch and closes the
    /// connections. Nothing else runs in the background: leases are kept alive by their owners'
    /// refreshes, as with every other backend.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Ends every watch (their streams finish without an error) and closes every connection.
    /// Requests afterwards fail with ``StoreError/Code/unavailable``.
    public func shutdown() async {
        let tasks = watches.withLock { registry in
            registry.isShutDown = true
            defer { registry.tasks = [:] }
            return Array(registry.tasks.values)
        }
        for task in tasks { task.cancel() }
        await gateway.shutdown()
        for task in tasks { await task.value }
    }

    // MARK: Reads

    public func currentIndex() async throws -> UInt64 {
        let request = EtcdRangeRequest(key: keyspace.directoryKey("/"), countOnly: true)
        let (response, _) = try await gateway.call("/v3/kv/range", request, as: EtcdRangeResponse.self)
        return UInt64(max(0, response.revision))
    }

    public func get(_ rawKey: String, recursive: Bool) async throws -> StoreNode {
        let key = try StoreKey.normalize(rawKey)
        let depth = recursive ? Int.max : 1
        if key == "/" {
            let (kvs, _) = try await rangeAll(keyspace.directoryKey(key), keyspace.subtreeEnd(key))
            return tree(key, kvs).node(depth: depth)
        }
        // The value, the subtree and whether an ancestor is a value (etcd's "Not a directory")
        // in one read-only txn: one round trip, one revision.
        let ancestors = EtcdKeyspace.ancestors(of: key)
        let request = EtcdTxnRequest(compare: [], success: [
            .range(EtcdRangeRequest(key: keyspace.valueKey(key))),
            .range(EtcdRangeRequest(key: keyspace.directoryKey(key), rangeEnd: keyspace.subtreeEnd(key),
                                    limit: String(pageSize))),
        ] + ancestors.map { .range(EtcdRangeRequest(key: keyspace.valueKey($0), countOnly: true)) }, failure: [])
        let (response, _) = try await readBatcher.submit(request)
        if let kv = response.range(0)?.kvs?.first {
            var node = EtcdTree.fileNode(kv, key: key)
            if kv.lease.value != 0 { node.expiration = try await expiration(ofLease: kv.lease.value) }
            return node
        }
        guard let subtree = response.range(1), var kvs = subtree.kvs, let last = kvs.last else {
            let index = UInt64(max(0, response.revision))
            if let file = ancestors.indices.first(where: { (response.range(2 + $0)?.count.value ?? 0) > 0 }) {
                throw StoreError(.notADirectory, ancestors[file], index: index)
            }
            throw StoreError(.keyNotFound, key, index: index)
        }
        if subtree.more == true {
            kvs += try await rangeAll(last.key + [0], keyspace.subtreeEnd(key), at: response.revision).kvs
        }
        return tree(key, kvs).node(depth: depth)
    }

    func tree(_ key: String, _ kvs: [EtcdKeyValue]) -> EtcdTree {
        let tree = EtcdTree(key: key)
        for kv in kvs {
            guard let (fleetKey, isMarker) = keyspace.fleetKey(kv.key) else { continue }
            tree.add(kv, fleetKey: fleetKey, isMarker: isMarker)
        }
        return tree
    }

    /// Every key-value in `[start, end)`, read in pages at one revision (the first page's, or `revision`).
    func rangeAll(_ start: Data, _ end: Data, at revision: Int64? = nil) async throws
        -> (kvs: [EtcdKeyValue], revision: Int64)
    {
        var kvs: [EtcdKeyValue] = []
        var from = start
        var pinned = revision
        while true {
            let request = EtcdRangeRequest(key: from, rangeEnd: end, limit: String(pageSize),
                                           revision: pinned.map { String($0) })
            let (page, _) = try await gateway.call("/v3/kv/range", request, as: EtcdRangeResponse.self)
            pinned = pinned ?? page.revision
            let got = page.kvs ?? []
            kvs += got
            guard page.more == true, let last = got.last else { return (kvs, pinned ?? 0) }
            from = last.key + [0]
        }
    }

    // MARK: Writes

    public func apply(_ write: StoreWrite) async throws -> StoreEvent {
        try write.validate()
        if let storeGuard = write.storeGuard { _ = try checkedGuardKey(storeGuard) }
        switch write {
        case let .set(key, value, ttl, condition):
            let key = try StoreKey.normalize(key)
            guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: knownIndex) }
            if let value {
                return try await setValue(key, value, ttl: ttl, condition: condition)
            }
            return try await makeDirectory(key, ttl: ttl, condition: condition)
        case let .refresh(key, ttl, condition):
            let key = try StoreKey.normalize(key)
            guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: knownIndex) }
            return try await refresh(key, ttl: ttl, condition: condition)
        case let .attach(key, value, owner, condition):
            let key = try StoreKey.normalize(key)
            guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: knownIndex) }
            return try await attachValue(key, value, owner: StoreKey.normalize(owner), condition: condition)
        case let .createInOrder(key, value, ttl):
            return try await createInOrder(below: StoreKey.normalize(key), value, ttl: ttl)
        case let .delete(key, directory, recursive, condition):
            let key = try StoreKey.normalize(key)
            guard key != "/" else { throw StoreError(.rootReadOnly, "/", index: knownIndex) }
            return try await delete(key, directory: directory, recursive: recursive, condition: condition)
        }
    }

    public func supportsAttachedKeys() -> Bool { true }

    /// The newest revision this store has seen; for errors raised without asking etcd.
    var knownIndex: UInt64 { UInt64(max(0, gateway.lastRevision)) }
}
