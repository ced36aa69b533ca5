@testable import FleetEngine
import FleetRegistry
import FleetStore
import Synchronization
import Testing

/// How often engines write the lease key (issue 16, idle cost): each such write is a request the
/// store's machine serves, from every machine, for as long as the cluster runs.
extension EngineFencingTests {
    /// Counts writes of the engine lease key, and signals each one.
    final class LeaseWrites: Sendable {
        private let count = Mutex(0)
        let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation

        init(_ cluster: Cluster) {
            (stream, continuation) = AsyncStream<Void>.makeStream()
            let leaseKey = cluster.registry.keys.engineLease
            cluster.hook.observe { [self] write in
                switch write {
                case let .set(key, _, _, _), let .refresh(key, _, _):
                    if key == leaseKey { record() }
                default: return
                }
            }
        }

        private func record() {
            count.withLock { $0 += 1 }
            continuation.yield()
        }

        var total: Int { count.withLock { $0 } }
    }

    /// Runs an engine for `machine` (lease TTL `ttl` s, so a tick every third of it) while
    /// `body` runs.
    func running(_ cluster: Cluster, _ machine: MachineID, ttl: Int64,
                 _ body: @escaping @Sendable () async throws -> Void) async throws {
        let engine = Engine(registry: cluster.registry, configuration: .init(machine: machine, leaseTTL: ttl, now: { .now }),
                            logger: cluster.logs.logger(machine.rawValue))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await engine.run() }
            try await body()
            group.cancelAll()
        }
    }

    /// A machine whose tries find the lease held tries again about once per lease TTL, not at
    /// every tick (its lease watch wakes it when the lease goes), and each try is one write.
    @Test func aMachineThatDoesNotLeadTriesForTheLeaseAboutOncePerTTL() async throws {
        let cluster = Cluster()
        try await cluster.store.create(cluster.registry.keys.engineLease, "m9", ttl: 600)
        let writes = LeaseWrites(cluster)
        try await running(cluster, m2, ttl: 1) {
            var tries = writes.stream.makeAsyncIterator()
            _ = await tries.next()  // its first wake-up
            let before = writes.total
            try await Task.sleep(for: .seconds(3))  // the window measured: 9 ticks
            let made = writes.total - before
            // Every tick, as before: 9 tries of 2 writes each (a failed create, a failed renewal).
            #expect(made <= 5, "\(made) lease writes in 3 s of ticks every 1/3 s")
            #expect(made >= 1, "the backstop still tries")
        }
    }

    /// A leader renews with one write per tick (not a failed create and then the renewal).
    @Test func aLeaderRenewsWithOneWritePerTick() async throws {
        let cluster = Cluster()
        let writes = LeaseWrites(cluster)
        try await running(cluster, m2, ttl: 1) {
            var tries = writes.stream.makeAsyncIterator()
            _ = await tries.next()
            let before = writes.total
            try await Task.sleep(for: .seconds(3))  // the window measured: 9 ticks
            let made = writes.total - before
            #expect(made <= 12, "\(made) lease writes in 3 s of ticks every 1/3 s")
            #expect(try await cluster.store.value(cluster.registry.keys.engineLease) == "m2")
        }
    }

    /// When the store does not answer, the next tick tries again: the backstop's slower pace is
    /// only for a lease the store said is held.
    @Test func aTryTheStoreDidNotAnswerIsRepeatedAtTheNextTick() async throws {
        let cluster = Cluster()
        try await cluster.store.create(cluster.registry.keys.engineLease, "m9", ttl: 600)
        cluster.hook.failLeaseWrites(true)
        let writes = LeaseWrites(cluster)
        try await running(cluster, m2, ttl: 3) {
            // A tick every second: five tries within 8 s only if every tick tries (at once per
            // TTL it would take 12 s).
            let five = Task {
                var tries = writes.stream.makeAsyncIterator()
                for _ in 0..<5 { _ = await tries.next() }
            }
            let bound = Task {
                try await Task.sleep(for: .seconds(8))
                five.cancel()
            }
            await five.value
            bound.cancel()
            #expect(writes.total >= 5, "\(writes.total) tries within 8 s of ticks every second")
        }
    }
}
