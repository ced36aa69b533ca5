import FleetStore
import Testing

/// Attached keys (``StoreWrite/attach(key:value:owner:condition:)``): a key that lives as long as
/// its owner, which is how a machine's unit states and discovery records cost nothing to keep
/// alive (issue 16).
extension StoreConformance {
    static func attachedKeysLiveWithTheirOwnerAndExpireWithIt(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/own/m1", "up", ttl: 3)
        try await store.attach("/att/web1", "active", to: "/own/m1")
        try await store.attach("/att/web2", "active", to: "/own/m1")
        #expect(try await store.supportsAttachedKeys())
        // Kept alive by the owner's refreshes alone, past any TTL of their own.
        try await fixture.advance(seconds: 2)
        try await store.refresh("/own/m1", ttl: 3)
        try await fixture.advance(seconds: 2)
        #expect(try await store.value("/att/web1") == "active", "an attached key lives while its owner does")
        let watch = try await store.watch("/att", recursive: true, fromIndex: nil)
        try await fixture.advance(seconds: 4)
        let events = try await firstEvents(watch, count: 2)
        #expect(Set(events.map(\.node.key)) == ["/att/web1", "/att/web2"])
        #expect(events.allSatisfy { $0.action == .expire || $0.action == .delete }, "\(events.map(\.action))")
        #expect(try await store.getIfPresent("/att/web1") == nil)
        #expect(try await store.getIfPresent("/own/m1") == nil)
    }

    static func attachRefusesAMissingOwnerAndOneWithoutTTL(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        do {
            try await store.attach("/att/a", "x", to: "/own/none")
            Issue.record("attaching to a missing owner should fail")
        } catch let error as StoreError {
            #expect(error.code == .keyNotFound)
        }
        try await store.set("/own/forever", "up")
        do {
            try await store.attach("/att/a", "x", to: "/own/forever")
            Issue.record("attaching to an owner without a TTL should fail")
        } catch let error as StoreError {
            #expect(error.code == .invalidField)
        }
        do {
            try await store.attach("/att/a", "x", to: "/att/a")
            Issue.record("a key cannot own itself")
        } catch let error as StoreError {
            #expect(error.code == .invalidField)
        }
        #expect(try await store.getIfPresent("/att/a") == nil, "a refused attach writes nothing")
    }

    static func anAttachedKeyOverwrittenWithoutOwnerOutlivesIt(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/own/m1", "up", ttl: 2)
        try await store.attach("/att/a", "1", to: "/own/m1")
        try await store.attach("/att/b", "1", to: "/own/m1")
        try await store.set("/att/a", "2")
        try await fixture.advance(seconds: 3)
        #expect(try await store.value("/att/a") == "2", "a plain write detaches the key")
        #expect(try await store.getIfPresent("/att/b") == nil)
    }

    static func deletingAnOwnerTakesItsAttachedKeys(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/own/m1", "up", ttl: 3)
        try await store.attach("/att/a", "1", to: "/own/m1")
        let watch = try await store.watch("/att", recursive: true, fromIndex: nil)
        try await store.delete("/own/m1")
        if fixture.keepsAttachedKeysOfADeletedOwnerUntilItsTTL {
            try await fixture.advance(seconds: 4)
        }
        let events = try await firstEvents(watch, count: 1)
        #expect(events.map(\.node.key) == ["/att/a"])
        #expect(try await store.getIfPresent("/att/a") == nil)
    }

    static func anAttachFollowsAnOwnerMadeAgain(_ store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await store.set("/own/m1", "up", ttl: 2)
        try await store.attach("/att/a", "1", to: "/own/m1")
        // The owner is made again with a longer life (on etcd: a new lease); what is attached
        // now must follow the new owner, not the one a backend may remember.
        try await store.delete("/own/m1")
        try await store.create("/own/m1", "up again", ttl: 30)
        try await store.attach("/att/b", "1", to: "/own/m1")
        try await fixture.advance(seconds: 3)
        #expect(try await store.getIfPresent("/att/a") == nil)
        #expect(try await store.value("/att/b") == "1", "attached to the owner made again")
    }
}
