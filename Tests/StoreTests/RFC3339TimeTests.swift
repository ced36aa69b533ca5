import Foundation
import Testing
import FleetStore

/// etcd v2 `expiration` times and discovery records' `since`, written and read without
/// Foundation's date formatters (which map ICU into the process).
@Suite struct RFC3339TimeTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(RFC3339Time.format(Date(timeIntervalSince1970: 1_795_609_049.1054)) == "2026-11-25T12:17:29.105Z")
        #expect(RFC3339Time.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }

    @Test(arguments: [
        ("2026-11-25T12:17:29.105Z", 1_795_609_049.105),
        ("2026-11-25T12:17:29.105444999Z", 1_795_609_049.105444999),  // etcd writes nanoseconds
        ("2026-11-25T12:17:29Z", 1_795_609_049),
        ("2026-11-25T14:17:29+02:00", 1_795_609_049),
        ("2026-11-25T10:47:29.5-01:30", 1_795_609_049.5),
    ])
    func parsesRFC3339(text: String, seconds: Double) throws {
        let date = try #require(RFC3339Time.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: ["", "2026-11-25", "2026-11-25T12:17:29", "2026-13-25T12:17:29Z", "2026-11-25T12:17:29.Z",
                      "2026-11-25T12:17:29Zjunk", "2026-11-25 12:17:29Z", "２０２６-11-25T12:17:29Z"])
    func refusesAnythingElse(text: String) {
        #expect(RFC3339Time.parse(text) == nil)
    }

    @Test func roundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_795_609_049.25)
        #expect(try #require(RFC3339Time.parse(RFC3339Time.format(date))) == date)
    }

    /// Whole seconds exactly as Foundation's `.iso8601` writes them (a discovery record's `since`
    /// was written that way before), over a spread of dates.
    @Test func secondsMatchFoundationsISO8601() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let date = Date(timeIntervalSince1970: Double.random(in: 0..<253_402_300_799, using: &generator))
            #expect(RFC3339Time.formatSeconds(date) == date.formatted(.iso8601), "\(date.timeIntervalSince1970)")
        }
        #expect(RFC3339Time.formatSeconds(Date(timeIntervalSince1970: 1_795_609_049.999)) == "2026-11-25T12:17:29Z")
    }

    /// A date outside what can be written (a hostile or corrupt value) is clamped, not a trap.
    @Test func clampsWhatCannotBeWritten() {
        #expect(RFC3339Time.formatSeconds(Date(timeIntervalSince1970: -1e18)) == "1970-01-01T00:00:00Z")
        #expect(RFC3339Time.formatSeconds(Date(timeIntervalSince1970: .infinity)) == "9999-12-31T23:59:59Z")
        #expect(RFC3339Time.format(Date(timeIntervalSince1970: .nan)) == "1970-01-01T00:00:00.000Z")
    }
}
