#if canImport(Glibc)
import Glibc
#endif
import FleetStore
import Logging
import NIOCore
import Testing
@testable import FleetHTTPServer

/// The connection cap, idle timeout and header limits of a listener, over real sockets.
@Suite struct ListenerLimitsTests {
    @Test func connectionsBeyondTheCapAreClosedAtOnceAndTheOthersKeepWorking() async throws {
        let store = InMemoryStore()
        try await store.set("/k", "v")
        try await withLimitedKeysServer(store, limits: ListenerLimits(maxConnections: 3)) { port, gate in
            let held = try (0..<3).map { _ in try RawClient(port: port) }
            await eventually("3 connections never counted") { gate.open == 3 }
            for _ in 0..<5 {
                let extra = try RawClient(port: port)
                extra.send(request("/v2/keys/k"))
                let (text, closed) = await extra.read(for: .seconds(5))
                #expect(closed && text.isEmpty, "a connection over the cap should be closed unanswered; got: \(text)")
            }
            held[0].send(request("/v2/keys/k"))
            let (answer, _) = await held[0].read(for: .seconds(5), until: "\"v\"")
            #expect(answer.hasPrefix("HTTP/1.1 200"), "an admitted connection should still be served; got: \(answer)")
            held[1].close()
            await eventually("the closed connection never left the count") { gate.open == 2 }
            let later = try RawClient(port: port)
            later.send(request("/v2/keys/k"))
            let (again, _) = await later.read(for: .seconds(5), until: "\"v\"")
            #expect(again.hasPrefix("HTTP/1.1 200"), "a connection within the cap again should be served; got: \(again)")
        }
    }

    @Test func anIdleConnectionIsClosedButAWatchInFlightIsNot() async throws {
        let store = InMemoryStore()
        let limits = ListenerLimits(idleTimeout: .milliseconds(300))
        try await withLimitedKeysServer(store, limits: limits) { port, _ in
            let idle = try RawClient(port: port)
            let watching = try RawClient(port: port)
            watching.send(request("/v2/keys/slow?wait=true"))
            await eventually("the watch never registered") { await store.watcherCount == 1 }
            let (_, idleClosed) = await idle.read(for: .seconds(3))
            #expect(idleClosed, "an idle connection should be closed after the idle timeout")
            // Well past the timeout, the long-poll is still there and still answers.
            #expect(await store.watcherCount == 1)
            try await store.set("/slow", "done")
            let (text, _) = await watching.read(for: .seconds(5), until: "\"done\"")
            #expect(text.contains("\"done\""), "the watch in flight should not be cut; got: \(text)")
        }
    }

    @Test func aConnectionIdleAfterAnAnswerIsClosedToo() async throws {
        let store = InMemoryStore()
        try await store.set("/k", "v")
        try await withLimitedKeysServer(store, limits: ListenerLimits(idleTimeout: .milliseconds(300))) { port, gate in
            let client = try RawClient(port: port)
            client.send(request("/v2/keys/k"))
            let (text, closed) = await client.read(for: .seconds(3))
            #expect(text.hasPrefix("HTTP/1.1 200") && closed, "got: \(text), closed: \(closed)")
            await eventually("the listener still counts the connection") { gate.open == 0 }
        }
    }

    @Test func oversizedHeadersAreRefused() async throws {
        let store = InMemoryStore()
        try await withLimitedKeysServer(store, limits: ListenerLimits(maxHeaderBytes: 4096)) { port, _ in
            let client = try RawClient(port: port)
            let filler = String(repeating: "x", count: 8192)
            client.send("GET /v2/keys/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: \(filler)\r\n\r\n")
            let (text, closed) = await client.read(for: .seconds(5))
            #expect(text.hasPrefix("HTTP/1.1 400") || (closed && text.isEmpty), "got: \(text.prefix(200))")
            #expect(closed)
        }
    }

    @Test func capsAreLoweredToFitTheDescriptorLimit() {
        let limits = ListenerLimits(maxConnections: 1024)
        #expect(limits.fitted(toDescriptorLimit: 1_048_576, listeners: 3) == nil)
        #expect(limits.fitted(toDescriptorLimit: 1024, listeners: 3)?.maxConnections == (1024 - 256) / 3)
        #expect(limits.fitted(toDescriptorLimit: 100, listeners: 3)?.maxConnections == 16)
    }

    @Test func acceptPausesDoubleWhileErrorsLastAndStartOverAfterAQuietSecond() {
        let backoff = AcceptBackoff.Backoff(logger: Logger(label: "test"))
        let error = IOError(errnoCode: EMFILE, reason: "accept")
        let pauses = (0..<10).map { _ in backoff.next(after: error).nanoseconds / 1_000_000 }
        #expect(pauses == [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000])
    }
}
