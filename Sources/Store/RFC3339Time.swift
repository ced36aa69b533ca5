import Foundation

/// RFC 3339 times in UTC: as etcd's v2 API writes them (`expiration`, milliseconds:
/// `2026-11-25T12:00:00.123Z`) and as Foundation's `.iso8601` strategy writes them (whole
/// seconds: `2026-11-25T12:00:00Z`, a discovery record's `since`).
///
/// Written and read by hand, with libc's `gmtime_r`/`timegm`: Foundation's ISO8601DateFormatter
/// builds an ICU formatter per instance (it dominated fleetd's CPU profile when every watched
/// node carried a TTL), and its `.iso8601` format style and coding strategy build a Gregorian
/// calendar in the current time zone, which maps ICU's zone code and data (about 2 MB resident)
/// into the process for good.
public enum RFC3339Time {
    /// Any date is written: one outside year 1970...9999 (a deadline stored by an older version)
    /// is clamped into it first, so the conversion to milliseconds cannot trap.
    public static func format(_ date: Date) -> String {
        write(date, milliseconds: true)
    }

    /// The same in whole seconds (the fraction dropped, not rounded), as Foundation's `.iso8601`.
    public static func formatSeconds(_ date: Date) -> String {
        write(date, milliseconds: false)
    }

    private static func write(_ date: Date, milliseconds withFraction: Bool) -> String {
        let clamped = StoreLimits.clamp(expiration: date)
        let milliseconds = Int64((clamped.timeIntervalSince1970 * 1000).rounded(.down))
        var time = time_t(milliseconds.quotient(dividingBy: 1000))
        var parts = tm()
        gmtime_r(&time, &parts)
        let seconds = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                             Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        guard withFraction else { return seconds + "Z" }
        return seconds + String(format: ".%03dZ", Int(milliseconds.remainderFloored(dividingBy: 1000)))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              expect("Tt"), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
              let second = number(2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
              second < 61
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2), expect(":"), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }
}

extension Int64 {
    fileprivate func quotient(dividingBy divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor < 0) ? q - 1 : q
    }

    fileprivate func remainderFloored(dividingBy divisor: Int64) -> Int64 {
        let r = self % divisor
        return r < 0 ? r + divisor : r
    }
}
