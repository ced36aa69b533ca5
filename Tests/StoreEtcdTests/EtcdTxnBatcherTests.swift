import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

/// Which writes may share a batched txn: none may write what another's compares or reads look
/// at, since etcd evaluates every compare of a txn before applying any op. No etcd needed.
@Suite struct EtcdTxnBatcherFootprintTests {
    let keyspace = EtcdKeyspace(prefix: "/p")

    /// A value write as `EtcdStore` builds it: its ancestors must be no values, its subtree empty.
    func write(_ key: String) -> EtcdTxnBatcher.Footprint {
        var compares = EtcdKeyspace.ancestors(of: key).map { EtcdCompare.version(keyspace.valueKey($0), "EQUAL", 0) }
        compares.append(.version(keyspace.directoryKey(key), rangeEnd: keyspace.subtreeEnd(key), "EQUAL", 0))
        let put = EtcdPutRequest(key: keyspace.valueKey(key), value: Data("v".utf8))
        return EtcdTxnBatcher.Footprint(EtcdTxnRequest(compare: compares, success: [.put(put)], failure: []))!
    }

    @Test func unrelatedKeysShareABatch() {
        #expect(!write("/a/b").overlaps(write("/a/c")))
        #expect(!write("/states/u1/m").overlaps(write("/states/u2/m")))
    }

    @Test func aKeyAndItsAncestorOrItsSubtreeDoNot() {
        #expect(write("/a").overlaps(write("/a/b")), "/a/b's compare reads /a")
        #expect(write("/a/b").overlaps(write("/a")), "in either order")
        #expect(write("/a/b").overlaps(write("/a/b")), "the same key twice")
        #expect(write("/x/y").overlaps(write("/x/y/z/w")))
    }

    /// A write lingers for company only in a burst: a batch went out within the busy window.
    @Test func onlyABusyStoreLingers() {
        let now = ContinuousClock.now, window = Duration.milliseconds(20)
        #expect(!EtcdTxnBatcher.isBusy(lastActive: nil, now: now, window: window), "nothing sent yet: at once")
        #expect(EtcdTxnBatcher.isBusy(lastActive: now - .milliseconds(5), now: now, window: window))
        #expect(!EtcdTxnBatcher.isBusy(lastActive: now - window, now: now, window: window), "after a quiet spell: at once")
        #expect(!EtcdTxnBatcher.isBusy(lastActive: now - .seconds(3), now: now, window: window))
    }

    /// etcd's `--max-txn-ops` (128) bounds the batch's list and, within it, each write's lists
    /// to what the batch leaves: a write 63 levels deep (63 compares) goes with 64 others at most.
    @Test func aBatchFitsEtcdsOpLimit() {
        #expect(write("/a/b").ops == 2, "its parent and its subtree")
        let deep = "/" + (1...63).map { "k\($0)" }.joined(separator: "/")
        #expect(write(deep).ops == 63)
        #expect(EtcdTxnBatcher.State.fits(count: 64, ops: 64))
        #expect(!EtcdTxnBatcher.State.fits(count: 65, ops: 64))
        #expect(EtcdTxnBatcher.State.fits(count: 65, ops: write(deep).ops))
        #expect(!EtcdTxnBatcher.State.fits(count: 66, ops: write(deep).ops))
    }

    @Test func aRangeDeleteIsNeverBatched() {
        let delete = EtcdDeleteRangeRequest(key: keyspace.directoryKey("/d"), rangeEnd: keyspace.subtreeEnd("/d"))
        #expect(EtcdTxnBatcher.Footprint(EtcdTxnRequest(compare: [], success: [.deleteRange(delete)], failure: [])) == nil)
    }
}

extension EtcdClusterSuites {
    /// Group commit of writes on a real cluster (issue 16 item 2).
    @Suite(.enabled(if: EtcdTestEnvironment.isAvailable, "needs FLEET_TEST_ETCD_ENDPOINTS (scripts/etcd-test)"))
    struct EtcdTxnBatcherTests {
        /// Many writes at once cost far fewer txns than writes, and each answer is its own.
        @Test func concurrentWritesShareTxns() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let txns = store.gateway.calls(to: "/v3/kv/txn")
                let events = try await withThrowingTaskGroup(of: (Int, StoreEvent).self) { group in
                    for i in 0..<96 { group.addTask { (i, try await store.set("/many/\(i)", "v\(i)")) } }
                    var events: [Int: StoreEvent] = [:]
                    for try await (i, event) in group { events[i] = event }
                    return events
                }
                let sent = store.gateway.calls(to: "/v3/kv/txn") - txns
                #expect(sent < 48, "96 writes in \(sent) txns")
                for i in 0..<96 {
                    let node = try await store.get("/many/\(i)", recursive: false)
                    #expect(node.value == "v\(i)")
                    #expect(events[i]?.node.modifiedIndex == node.modifiedIndex, "each write's own index")
                    #expect(events[i]?.node.value == "v\(i)")
                }
            }
        }

        /// Reads batch too (a read-only txn of read-only txns), each with its own answer.
        @Test func concurrentReadsShareTxns() async throws {
            try await EtcdTestEnvironment.withStore { store in
                for i in 0..<8 { try await store.set("/r/\(i)", "v\(i)") }
                let txns = store.gateway.calls(to: "/v3/kv/txn")
                let values = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                    for i in 0..<96 { group.addTask { (i, try await store.getIfPresent("/r/\(i % 12)")?.value) } }
                    var values: [Int: String?] = [:]
                    for try await (i, value) in group { values[i] = value }
                    return values
                }
                let sent = store.gateway.calls(to: "/v3/kv/txn") - txns
                #expect(sent < 48, "96 reads in \(sent) txns")
                for i in 0..<96 {
                    #expect(values[i] == .some(i % 12 < 8 ? "v\(i % 12)" : nil), "read \(i)")
                }
                let below = await #expect(throws: StoreError.self) { try await store.get("/r/1/x", recursive: false) }
                #expect(below?.code == .notADirectory)
            }
        }

        /// A value and a value below it, written at once, over and over: exactly one of each
        /// pair may succeed (the other is `notADirectory` or `notAFile`), batched or not.
        @Test func batchedWritesKeepTheTreeRules() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for round in 0..<40 {
                        group.addTask { (try? await store.create("/tree/\(round)", "file")) != nil }
                        group.addTask { (try? await store.create("/tree/\(round)/below", "file")) != nil }
                        group.addTask { _ = try await store.set("/filler/\(round)", "x"); return false }
                    }
                    var won = 0
                    for try await success in group where success { won += 1 }
                    return won
                }
                #expect(outcomes == 40, "one of each pair")
                for round in 0..<40 {
                    let node = try await store.get("/tree/\(round)", recursive: true)
                    #expect(node.isDirectory ? node.nodes?.count == 1 : node.value == "file")
                }
            }
        }

        /// In a burst, a write that finds nothing in flight waits (`linger`) for others to join
        /// its txn: one made a moment later goes with it. A write to an idle store goes at once.
        @Test func aLoneWriteInABurstTakesCompany() async throws {
            try await EtcdTestEnvironment.withStore { store in
                // A long linger and busy window, so that neither a slow round trip nor a slow
                // scheduler takes the second write out of the first one's company.
                let batcher = EtcdTxnBatcher(gateway: store.gateway, linger: .milliseconds(500), busyWindow: .seconds(30))
                let put = { (key: String) in
                    EtcdTxnRequest(compare: [], success: [
                        .put(EtcdPutRequest(key: store.keyspace.valueKey(key), value: Data("v".utf8))),
                    ], failure: [])
                }
                let txns = { store.gateway.calls(to: "/v3/kv/txn") }
                let before = txns()
                _ = try await batcher.submit(put("/linger/first"))
                #expect(txns() == before + 1, "an idle store's write went alone")
                let a = put("/linger/a"), b = put("/linger/b")
                async let leader = batcher.submit(a)
                try await Task.sleep(for: .milliseconds(20))  // the scenario: a write a moment later
                async let joiner = batcher.submit(b)
                let answers = try await [leader, joiner]
                #expect(answers.allSatisfy { $0.response.didSucceed })
                #expect(txns() == before + 2, "the two writes of the burst went in one txn")
                let values = try await [store.value("/linger/a"), store.value("/linger/b")]
                #expect(values == ["v", "v"])
            }
        }

        /// etcd refuses a whole txn for one put on a lease that does not exist; the batch's
        /// other writes are then sent alone and succeed, and only that one fails.
        @Test func aBatchRefusedForOneWriteAnswersEachAlone() async throws {
            try await EtcdTestEnvironment.withStore { store in
                let put = { (key: String, lease: String?) in
                    EtcdTxnRequest(compare: [], success: [
                        .put(EtcdPutRequest(key: store.keyspace.valueKey(key), value: Data("v".utf8), lease: lease)),
                    ], failure: [])
                }
                let results = await store.writeBatcher.send([put("/b/1", nil), put("/b/2", "424242424242"), put("/b/3", nil)])
                #expect(results.count == 3)
                #expect((try? results[0].get())?.response.didSucceed == true)
                #expect((try? results[2].get())?.response.didSucceed == true)
                #expect(throws: StoreError.self) { try results[1].get() }
                let values = try await [store.value("/b/1"), store.value("/b/2"), store.value("/b/3")]
                #expect(values == ["v", nil, "v"])
            }
        }
    }
}
