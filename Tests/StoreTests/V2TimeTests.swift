import Foundation
import Testing
@testable import FleetRemoteStore

/// etcd v2 `expiration` times, written and read without Foundation's date formatters.
@Suite struct V2TimeTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(V2Time.format(Date(timeIntervalSince1970: 1_795_609_049.1054)) == "2026-11-25T12:17:29.105Z")
        #expect(V2Time.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }

    @Test(arguments: [
        ("2026-11-25T12:17:29.105Z", 1_795_609_049.105),
        ("2026-11-25T12:17:29.105444999Z", 1_795_609_049.105444999),  // etcd writes nanoseconds
        ("2026-11-25T12:17:29Z", 1_795_609_049),
        ("2026-11-25T14:17:29+02:00", 1_795_609_049),
        ("2026-11-25T10:47:29.5-01:30", 1_795_609_049.5),
    ])
    func parsesRFC3339(text: String, seconds: Double) throws {
        let date = try #require(V2Time.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: ["", "2026-11-25", "2026-11-25T12:17:29", "2026-13-25T12:17:29Z", "2026-11-25T12:17:29.Z",
                      "2026-11-25T12:17:29Zjunk", "2026-11-25 12:17:29Z", "２０２６-11-25T12:17:29Z"])
    func refusesAnythingElse(text: String) {
        #expect(V2Time.parse(text) == nil)
    }

    @Test func roundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_795_609_049.25)
        #expect(try #require(V2Time.parse(V2Time.format(date))) == date)
    }
}
