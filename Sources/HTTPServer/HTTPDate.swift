#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The `Date` header's value (RFC 9110's IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted when a response asks for it and kept for the rest of that second.
///
/// Hummingbird's `Application` instead re-formats it on a timer every second through
/// Foundation's calendar: a wake-up per listener per second at idle (fleetd runs up to three
/// listeners), and the calendar's current time zone pulls in ICU's zone code and data (about
/// 2 MB resident). This asks libc, on demand.
public enum HTTPDate {
    private static let cached = Mutex<(second: Int, text: String)>((Int.min, ""))

    /// Now, formatted; the same string for every response within one second.
    public static func now() -> String {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let second = Int(clock.tv_sec)
        if let hit = cached.withLock({ $0.second == second ? $0.text : nil }) { return hit }
        let text = format(secondsSinceEpoch: second)
        cached.withLock { $0 = (second, text) }
        return text
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `seconds` since 1970 in UTC as an IMF-fixdate. A time libc cannot break down (beyond its
    /// year range) gives the epoch's date rather than a trap: the header is informational.
    public static func format(secondsSinceEpoch seconds: Int) -> String {
        var time = time_t(truncatingIfNeeded: seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil,
              days.indices.contains(Int(parts.tm_wday)), months.indices.contains(Int(parts.tm_mon)),
              parts.tm_year >= -1900, parts.tm_year <= 9999 - 1900
        else { return "Thu, 01 Jan 1970 00:00:00 GMT" }
        let year = String(Int(parts.tm_year) + 1900)
        return "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + String(repeating: "0", count: max(0, 4 - year.count)) + year
            + " \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }

    private static func twoDigits(_ value: Int32) -> String {
        let clamped = min(max(Int(value), 0), 99)
        return clamped < 10 ? "0\(clamped)" : String(clamped)
    }
}
