import FleetRemoteStore
import FleetStore
import Testing

/// A follower must never take a permanent key for an attached one: an older fleetd holding the
/// store does not know `owner=` and would keep a unit state for ever (issue 16).
@Suite struct RemoteStoreAttachTests {
    @Test func aCurrentServerSaysItAttaches() async throws {
        try await withKeysServer(InMemoryStore()) { url in
            #expect(await RemoteStore(url: url).supportsAttachedKeys())
        }
    }

    @Test func anOlderServerIsAskedFirstAndAnAttachItIgnoredIsTakenBack() async throws {
        let backing = InMemoryStore()
        try await withKeysServer(backing, asOlderServer: true) { url in
            let store = RemoteStore(url: url)
            #expect(await !store.supportsAttachedKeys())
            try await store.set("/m/1", "up", ttl: 30)
            do {
                try await store.attach("/s/web1", "active", to: "/m/1")
                Issue.record("an attach the server ignored must fail")
            } catch let error as StoreError {
                #expect(error.code == .unavailable)
            }
            #expect(try await backing.getIfPresent("/s/web1") == nil, "the value the server kept was taken back")
        }
    }
}
