import AsyncHTTPClient
import FleetRemoteStore
import FleetStore
import Testing

/// A fleetd reaches a remote store through three pools (``RemoteStore/Clients``): a TTL refresh
/// (presence, the engine lease) must never wait behind a burst of other writes, nor a request
/// behind the watches that hold their connections.
@Suite struct RemoteStoreClientsTests {
    /// Sends each kind of request through a store whose other two pools are shut down: only the
    /// named pool can have carried what succeeds.
    @Test func eachKindOfRequestGoesThroughItsOwnPool() async throws {
        let backing = InMemoryStore()
        try await backing.set("/m/1", "up", ttl: 30)
        let closed = HTTPClient(eventLoopGroupProvider: .singleton)
        try await closed.shutdown()
        let live = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await throughEachPool(backing, live: live, closed: closed)
        } catch {
            try? await live.shutdown()
            throw error
        }
        try await live.shutdown()
    }

    func throughEachPool(_ backing: InMemoryStore, live: HTTPClient, closed: HTTPClient) async throws {
        try await withKeysServer(backing) { url in
            let refreshesOnly = RemoteStore(url: url, clients: .init(requests: closed, refreshes: live, watches: closed))
            try await refreshesOnly.refresh("/m/1", ttl: 30)
            await #expect(throws: (any Error).self, "a set does not go through the refresh pool") {
                try await refreshesOnly.set("/m/2", "x")
            }

            let requestsOnly = RemoteStore(url: url, clients: .init(requests: live, refreshes: closed, watches: closed))
            try await requestsOnly.set("/m/2", "x")
            #expect(try await requestsOnly.value("/m/2") == "x")
            await #expect(throws: (any Error).self, "a refresh does not go through the request pool") {
                try await requestsOnly.refresh("/m/1", ttl: 30)
            }

            let watchesOnly = RemoteStore(url: url, clients: .init(requests: closed, refreshes: closed, watches: live))
            let from = try await backing.currentIndex() + 1
            let events = try await watchesOnly.watch("/m", recursive: true, fromIndex: from)
            try await backing.set("/m/3", "y")
            var iterator = events.makeAsyncIterator()
            #expect(try await iterator.next()?.node.key == "/m/3")
            await #expect(throws: (any Error).self, "a read does not go through the watch pool") {
                _ = try await watchesOnly.value("/m/2")
            }
        }
    }

    /// ``RemoteStore/Clients/separate(tls:)`` makes three clients, none shared.
    @Test func separatePoolsAreThreeClients() async throws {
        let clients = RemoteStore.Clients.separate(tls: nil)
        #expect(clients.requests !== clients.refreshes && clients.refreshes !== clients.watches
            && clients.requests !== clients.watches)
        for client in [clients.requests, clients.refreshes, clients.watches] { try await client.shutdown() }
    }
}
