import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Synchronization
import Testing

/// Every suite that needs the etcd cluster nests in here, so they run one at a time: etcd's
/// revision is shared by the whole cluster (a test that checks `currentIndex()` must not see
/// another test's write), and the failover tests kill members and compact history.
@Suite(.serialized) enum EtcdClusterSuites {}

/// Where the tests find etcd: `FLEET_TEST_ETCD_ENDPOINTS` (comma list), set by `scripts/etcd-test`.
/// Without it every etcd test is skipped.
enum EtcdTestEnvironment {
    static let endpoints: [String]? = ProcessInfo.processInfo.environment["FLEET_TEST_ETCD_ENDPOINTS"]
        .map(EtcdStore.Configuration.endpoints(fromList:)).flatMap { $0.isEmpty ? nil : $0 }

    static var isAvailable: Bool { endpoints != nil }

    /// `scripts/etcd-cluster`, which started the cluster and can kill and restart its members.
    static let clusterScript: URL = {
        if let path = ProcessInfo.processInfo.environment["FLEET_TEST_ETCD_CLUSTER_SCRIPT"] {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/etcd-cluster")
    }()

    /// The failover tests need three members they may kill (one at a time) and restart.
    static var canKillMembers: Bool {
        (endpoints?.count ?? 0) >= 3 && FileManager.default.isExecutableFile(atPath: clusterScript.path)
    }

    /// Runs `body` with a store under a fresh prefix, then removes its keys and shuts it down.
    static func withStore<T>(endpoints: [String]? = nil, _ body: (EtcdStore) async throws -> T) async throws -> T {
        let store = try makeStore(endpoints: endpoints)
        do {
            let result = try await body(store)
            try await store.removeEverything()
            await store.shutdown()
            return result
        } catch {
            try? await store.removeEverything()
            await store.shutdown()
            throw error
        }
    }

    /// A store on the test cluster under a prefix no other test uses.
    static func makeStore(endpoints: [String]? = nil, prefix: String? = nil) throws -> EtcdStore {
        let prefix = prefix ?? "/fleet-test/\(UUID().uuidString.prefix(8))"
        return try EtcdStore(configuration: .init(endpoints: endpoints ?? self.endpoints ?? [], keyPrefix: prefix))
    }
}

/// A wall clock that only moves when a test says so.
final class ManualTime: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// What a conformance test may do to the store besides using it: let time pass (TTLs) and make
/// the store forget its history (watches from old indexes).
struct StoreFixture: Sendable {
    fileprivate let advanceBy: @Sendable (TimeInterval) async throws -> Void
    fileprivate let forget: @Sendable () async throws -> Void

    /// Lets `seconds` pass for TTLs: the manual clock of an in-memory store (expiring due keys at
    /// once), real time for etcd (whose leases run on its own clock).
    func advance(seconds: TimeInterval) async throws { try await advanceBy(seconds) }

    /// Makes every index up to now too old to watch from: the in-memory store's 50-event history
    /// is already exceeded by the test's writes; etcd compacts at its current revision.
    func forgetHistory() async throws { try await forget() }
}

/// The backends the conformance suite runs against.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case inMemory
    /// EtcdStore on the cluster named by `FLEET_TEST_ETCD_ENDPOINTS`, under a fresh random prefix.
    case etcd

    /// The in-memory store always; etcd only where a cluster was given.
    static var allCases: [StoreBackend] { EtcdTestEnvironment.isAvailable ? [.inMemory, .etcd] : [.inMemory] }

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh store of this kind and removes it afterwards.
    func with(_ body: @Sendable (any KeyValueStore, StoreFixture) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            let time = ManualTime()
            let backing = InMemoryStore(historyLimit: 50, now: { time.now })
            let fixture = StoreFixture(advanceBy: { seconds in
                time.advance(seconds: seconds)
                await backing.expireDueKeys()
            }, forget: {})
            try await body(backing, fixture)
        case .etcd:
            let store = try EtcdTestEnvironment.makeStore()
            let fixture = StoreFixture(advanceBy: { seconds in try await Task.sleep(for: .seconds(seconds)) },
                                       forget: { try await store.compact(at: Int64(store.currentIndex())) })
            do {
                try await body(store, fixture)
            } catch {
                try? await store.removeEverything()
                await store.shutdown()
                throw error
            }
            try await store.removeEverything()
            await store.shutdown()
        }
    }
}

extension EtcdStore {
    /// Deletes every key under the store's prefix (the root itself cannot be deleted through the API).
    func removeEverything() async throws {
        let request = EtcdDeleteRangeRequest(key: keyspace.directoryKey("/"), rangeEnd: keyspace.subtreeEnd("/"))
        _ = try await gateway.call("/v3/kv/deleterange", request, as: EtcdEmptyResponse.self)
    }

    /// Compacts etcd's history (the whole cluster's, not just this prefix) up to `revision`.
    func compact(at revision: Int64) async throws {
        let request = EtcdCompactionRequest(revision: String(revision), physical: true)
        _ = try await gateway.call("/v3/kv/compaction", request, as: EtcdEmptyResponse.self)
    }
}

/// The first `count` events of `stream`, or a test failure if they do not come within `seconds`.
func firstEvents(_ stream: AsyncThrowingStream<StoreEvent, any Error>, count: Int,
                 within seconds: Double = 5) async throws -> [StoreEvent] {
    try await withThrowingTaskGroup(of: [StoreEvent]?.self) { group in
        group.addTask {
            var events: [StoreEvent] = []
            for try await event in stream {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let events = first else {
            Issue.record("no \(count) watch events within \(seconds) s")
            return []
        }
        return events
    }
}
