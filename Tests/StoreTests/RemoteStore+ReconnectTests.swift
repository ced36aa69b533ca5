import FleetRemoteStore
import FleetStore
import FleetStoreHTTP
import Foundation
import Testing

/// A remote store whose server was gone for a while answers the first request made once the
/// server is back. A store holder's fleetd restarted after `kill -9` refuses connections for a
/// few seconds; the other machines' presence refreshes, each bounded to a second, must get
/// through as soon as it listens again, or their presence runs out while the store is up (the
/// faults suite's "kill -9 of the store holder" moved healthy machines' units this way).
@Suite struct RemoteStoreReconnectTests {
    @Test func theFirstRequestAfterTheServerIsBackSucceeds() async throws {
        let backing = InMemoryStore()
        try await backing.set("/k", "v")
        // A port that was just free: the first server's, once it has stopped.
        let port = try await freePort(backing)
        // Two seconds: fleetd's presence refresh has one, but this runs beside the whole suite
        // on two cores, where a server's start and first answer took over a second.
        let remote = RemoteStore(url: "http://127.0.0.1:\(port)", requestTimeout: .seconds(2))
        // Sixteen refused attempts: with the client's own reconnect back-off (100 ms × 1.25ⁿ)
        // the next dial would wait about 3.5 s, longer than the request's deadline.
        for attempt in 1...16 {
            await #expect(throws: (any Error).self, "attempt \(attempt) while the server is down") {
                _ = try await remote.get("/k", recursive: false)
            }
        }
        try await withKeysServer(backing, port: port) { _ in
            // Within the request's deadline, or it throws: no waiting out a back-off.
            let node = try await remote.get("/k", recursive: false)
            #expect(node.value == "v")
        }
    }

    /// Serves `store` on a port chosen by the kernel, stops, and returns the port.
    private func freePort(_ store: any KeyValueStore) async throws -> Int {
        let found = PortBox()
        try await withKeysServer(store) { url in
            found.set(Int(url.split(separator: ":").last ?? "") ?? 0)
        }
        let port = found.get()
        try #require(port > 0)
        return port
    }
}

private final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port = 0
    func set(_ value: Int) { lock.withLock { port = value } }
    func get() -> Int { lock.withLock { port } }
}
