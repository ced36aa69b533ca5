@testable import FleetEngine
import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import Logging
import MetricsTestKit
import Synchronization
import Testing

/// A stalled ex-leader can never overwrite its successor: every write of a pass is fenced by
/// the lease term (``Registry/fenced(by:)``) and checked against the lease's local deadline.
@Suite struct EngineFencingTests {
    let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
    let m1 = MachineID("m1"), m2 = MachineID("m2")

    /// The store's wall clock and each engine's monotonic clock, moved by hand.
    final class Clocks: Sendable {
        private let wall = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
        private let offsets = Mutex<[String: Duration]>([:])
        let start = ContinuousClock.now

        var storeNow: Date { wall.withLock { $0 } }
        func engineNow(_ name: String) -> ContinuousClock.Instant { start + offsets.withLock { $0[name, default: .zero] } }

        /// Time passes for the store and for the engines named (a stopped process's clock moves
        /// too; leaving an engine out stands for a stall between its deadline check and its write).
        func advance(seconds: Int, engines: [String]) {
            wall.withLock { $0 += TimeInterval(seconds) }
            advance(seconds: seconds, engineOnly: engines)
        }

        /// Time passes for these engines only (the store's clock stands still).
        func advance(seconds: Int, engineOnly engines: [String]) {
            offsets.withLock { for name in engines { $0[name, default: .zero] += .seconds(seconds) } }
        }
    }

    struct Cluster {
        let clocks = Clocks()
        let store: InMemoryStore
        /// The registry over ``store`` with ``hook`` run before each write under `job/`.
        let registry: Registry
        let hook = WriteHook()
        let logs = CapturedLogs()
        let metrics = TestMetrics()

        init() {
            let clocks = self.clocks
            store = InMemoryStore(now: { clocks.storeNow })
            registry = Registry(store: HookedStore(base: store, hook: hook))
        }

        func engine(_ machine: MachineID) -> Engine {
            let clocks = self.clocks, name = machine.rawValue
            return Engine(registry: registry,
                          configuration: .init(machine: machine, leaseTTL: 10, metrics: EngineMetrics(factory: metrics),
                                               now: { clocks.engineNow(name) }),
                          logger: logs.logger(machine.rawValue))
        }

        /// Lets the lease TTL (10 s) and then some pass, and expires what is due.
        func pause(seconds: Int = 11, engines: [String]) async {
            clocks.advance(seconds: seconds, engines: engines)
            await store.expireDueKeys()
        }

        /// Everything under the registry prefix, for comparing before and after.
        func snapshot() async throws -> [String: String] {
            let root = try await store.get(registry.keys.prefix, recursive: true)
            return Dictionary(uniqueKeysWithValues: root.leaves.map { ($0.key, $0.value ?? "") })
        }
    }

    func setUp(_ cluster: Cluster) async throws {
        for id in [m1, m2] {
            try await cluster.registry.publishMachine(MachineRecord(id: id, publicIP: "10.0.0.\(id == m1 ? 1 : 2)"),
                                                      ttl: 3600)
        }
        for i in 1...2 {
            try await cluster.registry.createUnit(try UnitName("web\(i).service"), file: file, desiredState: .launched)
        }
    }

    @Test func aLeaderStalledInItsPassWritesNothingOnceItsSuccessorTookOver() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1), b = cluster.engine(m2)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        #expect(await b.leadAndReconcile(holding: nil) == nil, "one leader at a time")
        #expect(try await cluster.registry.unit(try UnitName("web2.service"))?.target == m2)

        // A plans a pass from a view in which m2 has just gone (its presence flapped), and stalls
        // before writing: its renewals stop, and its own clock does not show the stall yet.
        let registry = cluster.registry
        let staleUnits = try await registry.units()
        let staleMachines = try await registry.machines().filter { $0.id == m1 }
        let staleAssignments = try await registry.allAssignments()
        await cluster.pause(engines: ["m2"])

        // The lease lapsed: B takes over with a new term and places a unit made meanwhile.
        try await registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        let leaseB = try #require(await b.leadAndReconcile(holding: nil))
        #expect(leaseB.term != leaseA.term)
        #expect(try await registry.unit(try UnitName("web3.service"))?.target != nil)
        let successors = try await cluster.snapshot()
        let index = await cluster.store.currentIndex()

        // A resumes mid-pass: without fencing it would take web2 off m2 and move it to m1.
        let error = await #expect(throws: StoreError.self) {
            _ = try await a.pass(units: staleUnits, machines: staleMachines, assignments: staleAssignments, lease: leaseA)
        }
        #expect(error?.code == .guardFailed)
        #expect(await cluster.store.currentIndex() == index, "none of the stalled leader's writes landed")
        #expect(try await cluster.snapshot() == successors)
        #expect(try await registry.unit(try UnitName("web2.service"))?.target == m2)
    }

    @Test func aResumedLeaderStopsLeadingBeforeItsFirstWrite() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1), b = cluster.engine(m2)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        // SIGSTOP: time passes for everyone, A does nothing; B takes over.
        await cluster.pause(engines: ["m1", "m2"])
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        #expect(await b.leadAndReconcile(holding: nil) != nil)
        let successors = try await cluster.snapshot()
        let index = await cluster.store.currentIndex()

        // SIGCONT: A's next wake-up sees its lease is overdue and lets go; the store confirms.
        #expect(await a.leadAndReconcile(holding: leaseA) == nil)
        #expect(await cluster.store.currentIndex() == index)
        #expect(try await cluster.snapshot() == successors)
        #expect(cluster.logs.messages("m1").contains("engine leadership lost"))
        #expect(cluster.logs.metadata("m1", "engine.reason").contains("renewal_overdue"))
        #expect(try cluster.metrics.expectCounter("fleet_engine_leadership_lost_count_total",
                                                  [("reason", "renewal_overdue")]).totalValue == 1)
    }

    @Test func aPassPastItsLocalDeadlineWritesNothingEvenWhileTheStoreStillAgrees() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        // Only A's clock moves: the store has not expired the lease, but A cannot know that.
        cluster.clocks.advance(seconds: 11, engineOnly: ["m1"])
        let index = await cluster.store.currentIndex()
        await #expect(throws: LeadershipLoss.self) {
            try await a.reconcileFromModel(lease: leaseA)
        }
        #expect(await cluster.store.currentIndex() == index)
        #expect(try await cluster.registry.unit(try UnitName("web3.service"))?.target == nil)
    }

    @Test func anotherTermEndsLeadershipBeforeAnyWrite() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        // Someone else's term, while A's clock still says its lease is good (and past the
        // moments after a renewal in which a pass reuses it, so this wake-up renews).
        cluster.clocks.advance(seconds: 2, engines: ["m1"])
        try await cluster.store.delete(cluster.registry.keys.engineLease)
        try await cluster.store.create(cluster.registry.keys.engineLease, "m2", ttl: 10)
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        let index = await cluster.store.currentIndex()
        #expect(await a.leadAndReconcile(holding: leaseA) == nil)
        #expect(await cluster.store.currentIndex() == index)
        #expect(cluster.logs.metadata("m1", "engine.reason").contains("taken_over"))
    }

    /// Right after a renewal a wake-up plans under the lease it holds, without writing it
    /// again; past a sixth of the TTL it renews (issue 16: a start of 200 units woke the
    /// engine every few tens of milliseconds, and each pass began with a lease write).
    @Test func aWakeUpRightAfterARenewalPlansWithoutWritingTheLease() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        let writes = LeaseWrites(cluster)
        let lease = try #require(await a.leadAndReconcile(holding: nil))
        let afterAcquiring = writes.total
        #expect(afterAcquiring >= 1)
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        let reused = try #require(await a.leadAndReconcile(holding: lease))
        #expect(reused == lease)
        #expect(writes.total == afterAcquiring, "no lease write for a pass right after a renewal")
        #expect(try await cluster.registry.unit(try UnitName("web3.service"))?.target != nil)
        cluster.clocks.advance(seconds: 2, engines: ["m1"])  // past 10 s / 6
        try await cluster.registry.createUnit(try UnitName("web4.service"), file: file, desiredState: .launched)
        let renewed = try #require(await a.leadAndReconcile(holding: reused))
        #expect(writes.total == afterAcquiring + 1, "one renewal")
        #expect(renewed.term == lease.term && renewed.renewedAt > lease.renewedAt)
        #expect(try await cluster.registry.unit(try UnitName("web4.service"))?.target != nil)
    }

    /// A lease lost in the moments after a renewal, when a pass does not renew it: the pass's
    /// first write is refused by the term's guard, nothing is written, and leadership ends.
    @Test func anotherTermRightAfterARenewalEndsLeadershipAtTheFirstWrite() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        try await cluster.store.delete(cluster.registry.keys.engineLease)
        try await cluster.store.create(cluster.registry.keys.engineLease, "m2", ttl: 10)
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        let index = await cluster.store.currentIndex()
        #expect(await a.leadAndReconcile(holding: leaseA) == nil)
        #expect(await cluster.store.currentIndex() == index, "nothing written under a lost term")
        #expect(cluster.logs.metadata("m1", "engine.reason") == ["guard_failed"])
        #expect(try await cluster.registry.unit(try UnitName("web3.service"))?.target == nil)
    }

    @Test func aFailedGuardEndsLeadershipAtOnceAndTheWriteIsNotRetried() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        // A stalls after renewing, right before its first write of the pass; meanwhile its lease
        // lapses and m2 takes it.
        let store = cluster.store, lease = cluster.registry.keys.engineLease
        cluster.hook.set { _ in
            _ = try? await store.delete(lease)
            _ = try? await store.create(lease, "m2", ttl: 10)
        }
        #expect(await a.leadAndReconcile(holding: leaseA) == nil)
        #expect(cluster.hook.calls == 1, "the failed write was not retried, and no other write followed")
        #expect(try await cluster.registry.unit(try UnitName("web3.service"))?.target == nil)
        #expect(cluster.logs.metadata("m1", "engine.reason") == ["guard_failed"])
        #expect(try cluster.metrics.expectCounter("fleet_engine_leadership_lost_count_total",
                                                  [("reason", "guard_failed")]).totalValue == 1)
        #expect(try cluster.metrics.expectGauge("fleet_engine_leader_start_time").lastValue == 0)
    }

    @Test func renewalsKeepTheTermAndTheWritesFlowing() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        var lease = try #require(await a.leadAndReconcile(holding: nil))
        for i in 3...5 {
            cluster.clocks.advance(seconds: 4, engines: ["m1"])
            try await cluster.registry.createUnit(try UnitName("web\(i).service"), file: file, desiredState: .launched)
            let renewed = try #require(await a.leadAndReconcile(holding: lease))
            #expect(renewed.term == lease.term)
            lease = renewed
            #expect(try await cluster.registry.unit(try UnitName("web\(i).service"))?.target != nil)
        }
        #expect(!cluster.logs.messages("m1").contains("engine leadership lost"))
    }

    @Test func aFailedRenewalEndsLeadership() async throws {
        let cluster = Cluster()
        try await setUp(cluster)
        let a = cluster.engine(m1)
        let leaseA = try #require(await a.leadAndReconcile(holding: nil))
        try await cluster.registry.createUnit(try UnitName("web3.service"), file: file, desiredState: .launched)
        cluster.clocks.advance(seconds: 2, engines: ["m1"])  // past the moments a pass reuses a renewal
        cluster.hook.failLeaseWrites(true)  // the store cannot be reached for the renewal
        #expect(await a.leadAndReconcile(holding: leaseA) == nil)
        #expect(cluster.logs.metadata("m1", "engine.reason") == ["renewal_failed"])
        #expect(try await cluster.registry.unit(try UnitName("web3.service"))?.target == nil, "no pass without a lease")
        cluster.hook.failLeaseWrites(false)
        let again = try #require(await a.leadAndReconcile(holding: nil), "the lease is still its own: it leads again")
        #expect(again.term == leaseA.term)
    }

    @Test func aSuccessorTakesOverAsSoonAsTheLeaseGoesNotAtItsNextTick() async throws {
        let cluster = Cluster()
        let leaseKey = cluster.registry.keys.engineLease
        try await cluster.store.create(leaseKey, "m9", ttl: 600)
        let (attempts, attempted) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        cluster.hook.observe { write in
            if case let .refresh(key, _, _) = write, key == leaseKey { attempted.yield() }
        }
        let lease = try await cluster.store.watch(leaseKey, recursive: false, fromIndex: nil)
        // A 600 s lease: the engine's safety-net tick is 200 s away, far beyond the bound below.
        let engine = Engine(registry: cluster.registry,
                            configuration: .init(machine: m2, leaseTTL: 600, now: { .now }),
                            logger: cluster.logs.logger("m2"))
        let store = cluster.store
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await engine.run()
                return false
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return false
            }
            group.addTask {
                // Its first wake-up found the lease taken (it tried to renew it as its own).
                var attempt = attempts.makeAsyncIterator()
                _ = await attempt.next()
                try await store.delete(leaseKey)
                for try await event in lease where event.action == .create { return event.node.value == "m2" }
                return false
            }
            let tookOver = try await group.next()
            #expect(tookOver == true, "the engine took the lease within 10 s of it going")
            group.cancelAll()
        }
    }
}

/// Runs a hook before each write under the registry's `job/` and counts those writes; an
/// observer sees every write.
final class WriteHook: Sendable {
    private let state = Mutex<(hook: (@Sendable (StoreWrite) async -> Void)?, calls: Int)>((nil, 0))
    private let observer = Mutex<(@Sendable (StoreWrite) -> Void)?>(nil)

    var calls: Int { state.withLock { $0.calls } }

    func observe(_ observer: @escaping @Sendable (StoreWrite) -> Void) { self.observer.withLock { $0 = observer } }

    func saw(_ write: StoreWrite) { observer.withLock { $0 }?(write) }

    private let leaseWritesFail = Mutex(false)

    /// Makes writes to the engine lease fail as if the store were unreachable.
    func failLeaseWrites(_ fail: Bool) { leaseWritesFail.withLock { $0 = fail } }

    var leaseWritesFailing: Bool { leaseWritesFail.withLock { $0 } }

    /// Sets the hook; it runs once, for the next write, and counting starts from zero.
    func set(_ hook: @escaping @Sendable (StoreWrite) async -> Void) {
        state.withLock { $0 = (hook, 0) }
    }

    func run(_ write: StoreWrite) async {
        let hook = state.withLock { state -> (@Sendable (StoreWrite) async -> Void)? in
            state.calls += 1
            defer { state.hook = nil }
            return state.hook
        }
        await hook?(write)
    }
}

/// A store that calls a ``WriteHook`` before writes under `/fleet/job`.
struct HookedStore: KeyValueStore {
    let base: any KeyValueStore
    let hook: WriteHook

    func get(_ key: String, recursive: Bool) async throws -> StoreNode { try await base.get(key, recursive: recursive) }

    func apply(_ write: StoreWrite) async throws -> StoreEvent {
        let key: String = switch write {
        case let .set(key, _, _, _), let .refresh(key, _, _), let .createInOrder(key, _, _), let .delete(key, _, _, _),
             let .attach(key, _, _, _): key
        }
        hook.saw(write)
        if key == RegistryKeys().engineLease && hook.leaseWritesFailing {
            throw StoreError(.unavailable, "store unreachable (test)")
        }
        if key.hasPrefix(RegistryKeys().jobs + "/") { await hook.run(write) }
        return try await base.apply(write)
    }

    func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> AsyncThrowingStream<StoreEvent, any Error> {
        try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }

    func currentIndex() async throws -> UInt64 { try await base.currentIndex() }
}

/// Log lines per logger label, for checking what an engine said.
final class CapturedLogs: Sendable {
    struct Line: Sendable {
        var label: String
        var message: String
        var metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])

    func logger(_ label: String) -> Logger {
        Logger(label: label, factory: { label in Handler(label: label, sink: self) })
    }

    func messages(_ label: String) -> [String] {
        lines.withLock { $0.filter { $0.label == label }.map(\.message) }
    }

    func metadata(_ label: String, _ key: String) -> [String] {
        lines.withLock { $0.filter { $0.label == label }.compactMap { $0.metadata[key] } }
    }

    fileprivate func append(_ line: Line) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let label: String
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append(Line(label: label, message: event.message.description,
                             metadata: merged.mapValues { "\($0)" }))
        }
    }
}
