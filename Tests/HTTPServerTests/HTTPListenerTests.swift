import FleetStore
import Foundation
import Testing
@testable import FleetHTTPServer

/// What fleetd's listener adds to every answer in place of Hummingbird's application: the
/// `Date` header (formatted on demand, no timer) and the server's name.
@Suite struct HTTPListenerTests {
    @Test func answersCarryTheDateAndTheServerName() async throws {
        let store = InMemoryStore()
        try await store.set("/k", "v")
        try await withLimitedKeysServer(store, limits: ListenerLimits(), serverName: "fleetd/test") { port, _ in
            let client = try RawClient(port: port)
            let before = Date()
            client.send(request("/v2/keys/k"))
            let (text, _) = await client.read(for: .seconds(5), until: "\"v\"")
            let after = Date()
            #expect(text.hasPrefix("HTTP/1.1 200"), "got: \(text)")
            #expect(text.lowercased().contains("\r\nserver: fleetd/test\r\n"), "got: \(text)")
            let dateLine = text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("date: ") }
            let value = try #require(dateLine.map { String($0.dropFirst("date: ".count)) }, "no Date header in: \(text)")
            let expected = Set([before, after].map { HTTPDate.format(secondsSinceEpoch: Int($0.timeIntervalSince1970)) })
            #expect(expected.contains(value), "Date \(value) is not the time of the request (\(expected))")
        }
    }

    @Test func formatsIMFFixdate() {
        #expect(HTTPDate.format(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110's example
        #expect(HTTPDate.format(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: 1_795_609_049) == "Wed, 25 Nov 2026 12:17:29 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
    }

    /// A clock or value libc cannot break down gives the epoch, not a trap.
    @Test func extremeTimesDoNotTrap() {
        for seconds in [Int.min, Int.max, -62_167_219_201, 253_402_300_800] {
            let text = HTTPDate.format(secondsSinceEpoch: seconds)
            #expect(text.hasSuffix(" GMT") && text.count == 29, "\(seconds): \(text)")
        }
    }

    /// Within one second every answer shares one string; the next second gets a new one.
    @Test func nowIsTheCurrentSecond() {
        let now = Int(Date().timeIntervalSince1970)
        let text = HTTPDate.now()
        #expect([now, now + 1].map { HTTPDate.format(secondsSinceEpoch: $0) }.contains(text), "\(text)")
    }
}
