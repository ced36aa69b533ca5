import FleetStore
import Testing

/// Guarded writes (``StoreGuard``), on every backend: how a lease holder's writes are fenced.
/// A lapsed lease is deleted once its TTL has passed, so etcd (which expires leases on its own
/// schedule, which a test should not race) and the manual-clock backends see the same tree.
extension StoreConformance {
    static func guardedWritesLandWhileTheGuardKeyIsTheSameTermAcrossRenewals(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let lease = try await store.create("/lease", "m1", ttl: 3)
        let term = StoreCondition(guardedBy: StoreGuard(key: "/lease", createdIndex: lease.node.createdIndex,
                                                        value: "m1"))
        try await store.set("/job/a", "1", condition: term)
        try await fixture.advance(seconds: 2)
        // A renewal moves modifiedIndex on some backends, never createdIndex: still the same term.
        let renewed = try await store.refresh("/lease", ttl: 3)
        #expect(renewed.node.createdIndex == lease.node.createdIndex)
        try await fixture.advance(seconds: 2)
        try await store.set("/job/a", "2", condition: term)
        try await store.set("/job/b", "1", condition: StoreCondition(prevExist: false, guardedBy: term.guardedBy))
        try await store.delete("/job/b", condition: StoreCondition(prevValue: "1", guardedBy: term.guardedBy))
        #expect(try await store.value("/job/a") == "2")
        #expect(try await store.getIfPresent("/job/b") == nil)
        // A guard that holds leaves the write's own condition to decide, with its own code.
        let own = await #expect(throws: StoreError.self) {
            try await store.set("/job/a", "3", condition: StoreCondition(prevValue: "x", guardedBy: term.guardedBy))
        }
        #expect(own?.code == .compareFailed)
    }

    static func guardedWritesFailOnceTheLeaseLapsedAndWasTakenAgain(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let lease = try await store.create("/lease", "m1", ttl: 2)
        let stale = StoreGuard(key: "/lease", createdIndex: lease.node.createdIndex, value: "m1")
        try await store.set("/job/kept", "m1's")
        try await fixture.advance(seconds: 3)
        try await store.deleteIfPresent("/lease", recursive: false)
        try await store.create("/lease", "m2", ttl: 10)
        let before = try await store.currentIndex()
        let writes: [StoreWrite] = [
            .set(key: "/job/new", value: "x", ttl: nil, condition: StoreCondition(guardedBy: stale)),
            .set(key: "/job/kept", value: "x", ttl: nil, condition: StoreCondition(prevExist: false, guardedBy: stale)),
            .delete(key: "/job/kept", directory: false, recursive: false, condition: StoreCondition(guardedBy: stale)),
            .delete(key: "/job/missing", directory: false, recursive: false, condition: StoreCondition(guardedBy: stale)),
            .delete(key: "/job", directory: true, recursive: true, condition: StoreCondition(guardedBy: stale)),
            .refresh(key: "/job/kept", ttl: 5, condition: StoreCondition(guardedBy: stale)),
        ]
        for write in writes {
            let error = await #expect(throws: StoreError.self, "\(write)") { try await store.apply(write) }
            #expect(error?.code == .guardFailed, "\(write): the guard is checked first")
        }
        #expect(try await store.currentIndex() == before, "no guarded write changed anything")
        #expect(try await store.value("/job/kept") == "m1's")
        #expect(try await store.getIfPresent("/job/new") == nil)
    }

    static func aGuardFailsOnAMissingKeyAnOverwrittenValueOrAnotherIndex(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        let missing = StoreGuard(key: "/nobody", createdIndex: 1)
        let error = await #expect(throws: StoreError.self) {
            try await store.set("/a", "1", condition: StoreCondition(guardedBy: missing))
        }
        #expect(error?.code == .guardFailed)
        #expect(error?.code != .compareFailed, "told apart from a failed compare, also over HTTP")
        let lease = try await store.create("/lease", "m1")
        let wrongIndex = StoreGuard(key: "/lease", createdIndex: lease.node.createdIndex + 1000)
        let zero = StoreGuard(key: "/lease", createdIndex: 0)
        // A plain set over the lease keeps its created index; the value still tells.
        try await store.set("/lease", "m2")
        let overwritten = StoreGuard(key: "/lease", createdIndex: lease.node.createdIndex, value: "m1")
        for failing in [wrongIndex, zero, overwritten] {
            let error = await #expect(throws: StoreError.self, "\(failing)") {
                try await store.set("/a", "1", condition: StoreCondition(guardedBy: failing))
            }
            #expect(error?.code == .guardFailed, "\(failing)")
        }
        #expect(try await store.getIfPresent("/a") == nil)
        try await store.set("/a", "1", condition: StoreCondition(
            guardedBy: StoreGuard(key: "/lease", createdIndex: lease.node.createdIndex, value: "m2")))
        #expect(try await store.value("/a") == "1")
    }
}
