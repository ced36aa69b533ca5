import FleetHTTPServer
import FleetStore
import FleetStoreHTTP
import Testing

/// A quiet streaming watch that asked for heartbeats hears one whenever it has had nothing for
/// that long, so its client can tell a quiet key from a dead connection (issue 16: clients made
/// quiet watches anew every few seconds, each a TLS handshake on the store's machine).
@Suite struct KeysWatchHeartbeatTests {
    /// One heartbeat in a chunked body: a chunk of one byte, an empty line.
    static let beat = "\r\n1\r\n\n\r\n"

    @Test func aQuietStreamingWatchHearsHeartbeatsThenItsEvent() async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, _ in
            let client = try RawClient(port: port)
            client.send(request("/v2/keys/quiet?wait=true&stream=true&heartbeat=1"))
            let (head, _) = await client.read(for: .seconds(10), until: Self.beat + "1\r\n\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 200"), "got: \(head)")
            #expect(head.contains("heartbeat"), "the features header names heartbeats: \(head)")
            #expect(head.contains(Self.beat + "1\r\n\n\r\n"), "two heartbeats in a row within 10 s: \(head)")
            try await store.set("/quiet", "here")
            let (text, _) = await client.read(for: .seconds(5), until: "\"here\"")
            #expect(text.contains("\"action\":\"set\""), "the event follows the heartbeats: \(text)")
        }
    }

    /// Without the parameter (etcd's clients), and on a long-poll, which answers one event as
    /// etcd does, nothing but events is written.
    @Test(arguments: ["?wait=true&stream=true", "?wait=true&heartbeat=1"])
    func onlyAStreamingWatchThatAskedGetsHeartbeats(_ query: String) async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, _ in
            let asking = try RawClient(port: port), other = try RawClient(port: port)
            asking.send(request("/v2/keys/k?wait=true&stream=true&heartbeat=1"))
            other.send(request("/v2/keys/k\(query)"))
            // The asking watch's two heartbeats mark the time in which the other had its chance.
            let (beats, _) = await asking.read(for: .seconds(10), until: Self.beat + "1\r\n\n\r\n")
            #expect(beats.contains(Self.beat + "1\r\n\n\r\n"), "the asking watch heard two: \(beats)")
            let (text, _) = await other.read(for: .milliseconds(200))
            #expect(text.hasPrefix("HTTP/1.1 200"), "got: \(text)")
            #expect(!text.contains("\n\r\n1\r\n\n\r\n") && !text.contains("\r\n\r\n\n"), "no heartbeat: \(text)")
        }
    }

    @Test(arguments: ["x", "-1", "3601", "1.5", "99999999999999999999"])
    func anInvalidIntervalIsRefused(_ value: String) async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits()) { port, _ in
            let client = try RawClient(port: port)
            client.send(request("/v2/keys/k?wait=true&stream=true&heartbeat=\(value)"))
            let (text, _) = await client.read(for: .seconds(5), until: "}")
            #expect(text.hasPrefix("HTTP/1.1 400"), "got: \(text)")
            #expect(text.contains("\"errorCode\":209"), "got: \(text)")
            #expect(await store.watcherCount == 0)
        }
    }
}
