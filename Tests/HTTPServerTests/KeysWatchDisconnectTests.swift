import FleetHTTPServer
import FleetStore
import FleetStoreHTTP
import Testing

/// A keys-API watch ends, and its store watcher goes, as soon as its client leaves.
@Suite struct KeysWatchDisconnectTests {
    @Test(arguments: ["?wait=true", "?wait=true&recursive=true&stream=true"])
    func anAbandonedWatchReleasesItsWatcher(_ query: String) async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, gate in
            var clients: [RawClient] = []
            for i in 0..<20 {
                let client = try RawClient(port: port)
                client.send(request("/v2/keys/abandoned/\(i)\(query)"))
                clients.append(client)
            }
            await eventually("20 watches never registered") { await store.watcherCount == 20 }
            for client in clients { client.close() }
            await eventually("the store still has watchers after their clients left") {
                await store.watcherCount == 0
            }
            await eventually("the listener still counts connections of clients that left") { gate.open == 0 }
        }
    }

    /// A client that exits sends a FIN; the listener allows half-closed connections, so only the
    /// input closes. The watch must notice that, not wait for an event to write.
    @Test func aHalfClosedWatchReleasesItsWatcherAndConnection() async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, gate in
            let client = try RawClient(port: port)
            client.send(request("/v2/keys/half?wait=true"))
            await eventually("the watch never registered") { await store.watcherCount == 1 }
            client.halfClose()
            await eventually("the watcher outlived its client") { await store.watcherCount == 0 }
            let (_, closed) = await client.read(for: .seconds(5))
            #expect(closed, "the server should close the connection once the watch ended")
            await eventually("the listener still counts the connection") { gate.open == 0 }
        }
    }

    @Test func aWatchWhoseClientStaysStillGetsItsEvent() async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, _ in
            let client = try RawClient(port: port)
            client.send(request("/v2/keys/stay?wait=true"))
            await eventually("the watch never registered") { await store.watcherCount == 1 }
            try await store.set("/stay", "here")
            let (text, _) = await client.read(for: .seconds(5), until: "\"here\"")
            #expect(text.contains("\"action\":\"set\""), "got: \(text)")
        }
    }

    @Test func watchesBeyondTheStoresCapGet503() async throws {
        let store = InMemoryStore(watchLimits: WatchLimits(maxWatchers: 2))
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, _ in
            let first = try RawClient(port: port), second = try RawClient(port: port)
            first.send(request("/v2/keys/a?wait=true"))
            second.send(request("/v2/keys/b?wait=true"))
            await eventually("two watches never registered") { await store.watcherCount == 2 }
            let third = try RawClient(port: port)
            third.send(request("/v2/keys/c?wait=true"))
            let (text, _) = await third.read(for: .seconds(5), until: "}")
            #expect(text.hasPrefix("HTTP/1.1 503"), "got: \(text)")
            #expect(text.contains("\"errorCode\":300"), "got: \(text)")
            first.close()
            await eventually("the first watch never went") { await store.watcherCount == 1 }
            let fourth = try RawClient(port: port)
            fourth.send(request("/v2/keys/d?wait=true"))
            await eventually("a watch within the cap was refused") { await store.watcherCount == 2 }
            _ = second
        }
    }
}
