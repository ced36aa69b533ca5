import FleetStore
import FleetStoreTesting
@testable import FleetStoreEtcd
import Foundation
import Synchronization
import Testing

extension EtcdClusterSuites {
    /// Member failures: each test kills the raft leader, which the store is talking to (the
    /// harshest case: its connections break and the cluster must elect before anything commits),
    /// and restarts it at the end.
    @Suite(.enabled(if: EtcdTestEnvironment.canKillMembers,
                    "needs FLEET_TEST_ETCD_ENDPOINTS naming 3 members started by scripts/etcd-cluster"))
    struct EtcdStoreFailoverTests {
        @Test func killingTheLeaderFailsNoOperation() async throws {
            let leader = try await EtcdClusterControl.leader()
            let store = try EtcdTestEnvironment.makeStore(endpoints: EtcdClusterControl.endpoints(startingWith: leader))
            do {
                for i in 0..<10 { try await store.set("/before/\(i)", "\(i)") }
                let cas = try await store.set("/cas", "0")
                let lease = try await store.set("/lease", "up", ttl: 30)
                #expect(store.gateway.failovers == 0)

                try await EtcdClusterControl.run("kill", String(leader), "KILL")

                // Every kind of operation, one after another, right after the kill: none may fail.
                var slowest = Duration.zero
                @discardableResult func timed<T>(_ operation: () async throws -> T) async throws -> T {
                    let start = ContinuousClock.now
                    defer { slowest = max(slowest, ContinuousClock.now - start) }
                    return try await operation()
                }
                try await timed { try await store.set("/after/0", "0") }
                #expect(try await timed { try await store.value("/before/3") } == "3")
                try await timed { try await store.create("/after/created", "x") }
                let swapped = try await timed { try await store.set("/cas", "1", condition: StoreCondition(prevIndex: cas.index)) }
                #expect(swapped.action == .compareAndSwap)
                try await timed { try await store.refresh("/lease", ttl: 30) }
                try await timed { try await store.delete("/before/0") }
                try await timed { _ = try await store.apply(.createInOrder(key: "/queue", value: "q", ttl: nil)) }
                for i in 1..<10 { try await timed { try await store.set("/after/\(i)", "\(i)") } }

                #expect(store.gateway.failovers >= 1, "the store never noticed the dead leader")
                let after = try await store.get("/after", recursive: true)
                #expect(after.nodes?.count == 11)
                #expect(try await store.getIfPresent("/before/0") == nil)
                #expect(try await store.value("/cas") == "1")
                #expect(try await store.get("/lease", recursive: false).modifiedIndex == lease.index)
                #expect(slowest < .seconds(5), "an operation took \(slowest) after the kill")
                print("killingTheLeaderFailsNoOperation: slowest operation after the kill took \(slowest), "
                    + "\(store.gateway.failovers) failovers")
            } catch {
                await cleanUp(store, restart: leader)
                throw error
            }
            await cleanUp(store, restart: leader)
        }

        /// Writes in flight when the leader dies: some are cut off after being sent, and their
        /// retries must neither fail nor be applied twice (a create retried after it took effect
        /// would otherwise report `nodeExists`).
        @Test func killingTheLeaderUnderLoadFailsNoOperation() async throws {
            let leader = try await EtcdClusterControl.leader()
            let store = try EtcdTestEnvironment.makeStore(endpoints: EtcdClusterControl.endpoints(startingWith: leader))
            do {
                let stop = Locked(false)
                let slowest = Locked(Duration.zero)
                let created = try await withThrowingTaskGroup(of: Int.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            var count = 0
                            while !stop.withLock({ $0 }) {
                                let start = ContinuousClock.now
                                try await store.create("/load/\(writer)/\(count)", "\(writer).\(count)")
                                let took = ContinuousClock.now - start
                                slowest.withLock { $0 = max($0, took) }
                                count += 1
                            }
                            return count
                        }
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    try await EtcdClusterControl.run("kill", String(leader), "KILL")
                    try await Task.sleep(for: .seconds(1))
                    stop.withLock { $0 = true }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                let stored = try await store.get("/load", recursive: true).leaves
                #expect(stored.count == created.reduce(0, +))
                #expect(stored.allSatisfy { $0.key.hasSuffix("/" + ($0.value?.split(separator: ".").last ?? "")) })
                print("killingTheLeaderUnderLoadFailsNoOperation: \(stored.count) creates by 8 writers, "
                    + "\(store.gateway.failovers) failovers, \(store.gateway.ambiguousCalls) answered after an "
                    + "ambiguous attempt, slowest create \(slowest.withLock { $0 })")
            } catch {
                await cleanUp(store, restart: leader)
                throw error
            }
            await cleanUp(store, restart: leader)
        }

        @Test func watchSurvivesItsMemberBeingKilled() async throws {
            let leader = try await EtcdClusterControl.leader()
            let store = try EtcdTestEnvironment.makeStore(endpoints: EtcdClusterControl.endpoints(startingWith: leader))
            do {
                // The watch opens on the leader (the store's first endpoint), like every request.
                let stream = try await store.watch("/seq", recursive: true, fromIndex: nil)
                let seen = Locked<[StoreEvent]>([])
                let reader = Task {
                    for try await event in stream {
                        let count = seen.withLock { $0.append(event); return $0.count }
                        if count == 40 { return }
                    }
                }
                var written: [StoreEvent] = []
                for i in 1...20 { written.append(try await store.set("/seq/\(i % 3)", "\(i)")) }
                try await waitUntil { seen.withLock { $0.count } >= 20 }

                try await EtcdClusterControl.run("kill", String(leader), "KILL")
                for i in 21...40 { written.append(try await store.set("/seq/\(i % 3)", "\(i)")) }
                try await waitUntil(seconds: 15) { seen.withLock { $0.count } >= 40 }
                reader.cancel()

                let events = seen.withLock { $0 }
                #expect(events.map(\.node.value) == (1...40).map { "\($0)" }, "lost, repeated or reordered events")
                #expect(events.map(\.index) == written.map(\.index))
                #expect(store.watchReconnects >= 1, "the watch never noticed its member die")
            } catch {
                await cleanUp(store, restart: leader)
                throw error
            }
            await cleanUp(store, restart: leader)
        }

        /// A frozen member (SIGSTOP: as a network partition, its connections stay open but
        /// silent) must be noticed by the watch's liveness check, not waited on forever.
        @Test func watchLeavesAFrozenMember() async throws {
            let leader = try await EtcdClusterControl.leader()
            var configuration = EtcdStore.Configuration(endpoints: EtcdClusterControl.endpoints(startingWith: leader),
                                                        keyPrefix: "/fleet-test/\(UUID().uuidString.prefix(8))")
            configuration.watchIdleCheck = .seconds(1)
            configuration.transport = EtcdTestEnvironment.transport
            let store = try EtcdStore(configuration: configuration)
            do {
                let stream = try await store.watch("/f", recursive: true, fromIndex: nil)
                let seen = Locked<[String]>([])
                let reader = Task {
                    for try await event in stream {
                        if seen.withLock({ $0.append(event.node.value ?? ""); return $0.count }) == 10 { return }
                    }
                }
                for i in 1...5 { try await store.set("/f/k", "\(i)") }
                try await waitUntil { seen.withLock { $0.count } >= 5 }
                try await EtcdClusterControl.run("kill", String(leader), "STOP")
                for i in 6...10 { try await store.set("/f/k", "\(i)") }
                try await waitUntil(seconds: 15) { seen.withLock { $0.count } >= 10 }
                reader.cancel()
                #expect(seen.withLock { $0 } == (1...10).map { "\($0)" })
                #expect(store.watchReconnects >= 1)
            } catch {
                await cleanUp(store, restart: leader)
                throw error
            }
            await cleanUp(store, restart: leader)
        }

        private func cleanUp(_ store: EtcdStore, restart member: Int) async {
            try? await store.removeEverything()
            await store.shutdown()
            do {
                try await EtcdClusterControl.run("restart", String(member))
            } catch {
                Issue.record("could not restart member \(member): \(error)")
            }
        }
    }

    /// History, leases and the key prefix: one member is enough.
    @Suite(.enabled(if: EtcdTestEnvironment.isAvailable, "needs FLEET_TEST_ETCD_ENDPOINTS"))
    struct EtcdStoreHistoryTests {
        @Test func compactedHistoryIsIndexCleared() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let first = try await store.set("/c/a", "1")
                let live = try await store.watch("/c", recursive: true, fromIndex: first.index + 1)
                for i in 0..<5 { try await store.set("/c/b", "\(i)") }
                // Only a watch that has caught up survives compaction (etcd cancels the others).
                let before = try await firstEvents(live, count: 5)
                try await store.compact(at: Int64(try await store.currentIndex()))

                let old = try await store.watch("/c", recursive: true, fromIndex: first.index)
                let error = await #expect(throws: StoreError.self) { for try await _ in old {} }
                #expect(error?.code == .indexCleared)
                // The data is still there, and a watch that was caught up keeps going.
                #expect(try await store.value("/c/b") == "4")
                try await store.set("/c/b", "after")
                let after = try await firstEvents(live, count: 1)
                #expect((before + after).map(\.node.value) == ["0", "1", "2", "3", "4", "after"])
            }
        }

        @Test func anExplicitDeleteOfALeasedKeyIsADeleteNotAnExpiry() async throws {
            try await EtcdTestEnvironment.withStore { store in
                try await store.set("/l/k", "v", ttl: 60)
                let watch = try await store.watch("/l", recursive: true, fromIndex: nil)
                try await store.delete("/l/k")
                let events = try await firstEvents(watch, count: 1)
                #expect(events.first?.action == .delete)
                #expect(events.first?.prevNode?.value == "v")
            }
        }

        @Test func refreshWithAnotherTTLAttachesANewLease() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let set = try await store.set("/r/k", "v", ttl: 60)
                let refreshed = try await store.refresh("/r/k", ttl: 60)
                #expect(refreshed.node.modifiedIndex == set.index, "a keep-alive is not a write")
                let longer = try await store.refresh("/r/k", ttl: 120)
                #expect(longer.node.modifiedIndex > set.index, "a new TTL needs a new lease, which is a write")
                let node = try await store.get("/r/k", recursive: false)
                #expect(node.value == "v")
                #expect((node.ttl(now: Date()) ?? 0) > 60)
            }
        }

        @Test func prefixesKeepStoresApart() async throws {
            try await EtcdTestEnvironment.withStore { one in
                try await EtcdTestEnvironment.withStore { two in
                    try await one.set("/shared/name", "one")
                    #expect(try await two.getIfPresent("/shared/name") == nil)
                    let root = try await two.get("/", recursive: true)
                    #expect(root.nodes == [])
                }
            }
        }

        @Test func directoriesAreEmulated() async throws {
            try await EtcdTestEnvironment.withStore { store in
                // An explicit directory exists while empty; an implied one goes with its last key.
                let made = try await store.apply(.set(key: "/d/empty", value: nil, ttl: nil, condition: .none))
                #expect(made.node.isDirectory)
                #expect(try await store.get("/d/empty", recursive: false).nodes == [])
                let again = await #expect(throws: StoreError.self) {
                    try await store.apply(.set(key: "/d/empty", value: nil, ttl: nil, condition: .none))
                }
                #expect(again?.code == .notAFile, "etcd v2's answer to making a directory again (issue 12)")
                let overDirectory = await #expect(throws: StoreError.self) { try await store.set("/d/empty", "x") }
                #expect(overDirectory?.code == .notAFile)
                _ = try await store.apply(.delete(key: "/d/empty", directory: true, recursive: false, condition: .none))
                try await store.set("/d/implied/k", "v")
                try await store.delete("/d/implied/k")
                #expect(try await store.getIfPresent("/d/implied") == nil)
                let ttlDirectory = await #expect(throws: StoreError.self) {
                    try await store.apply(.set(key: "/d/ttl", value: nil, ttl: 10, condition: .none))
                }
                #expect(ttlDirectory?.code == .invalidField)

                // Paging: a directory bigger than one page still reads whole.
                let paged = try EtcdStore(configuration: store.configuration, logger: EtcdStore.disabledLogger,
                                          pageSize: 3)
                for i in 0..<10 { try await store.set("/d/many/\(i)", "\(i)") }
                let children = try? await paged.get("/d/many", recursive: false).nodes?.count
                let leaves = try? await paged.get("/", recursive: true).leaves.count
                await paged.shutdown()
                #expect(children == 10)
                #expect(leaves == 10)
            }
        }
    }
}

/// A value shared between a test and the tasks it starts.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}

/// Polls `condition` until it holds; fails the test after `seconds`.
func waitUntil(seconds: Double = 5, _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(seconds) s")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
