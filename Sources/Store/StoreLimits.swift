import Foundation

/// The bounds every store backend enforces on what it is asked to hold, and the range every
/// stored deadline is read back into.
///
/// Keys, TTLs and deadlines arrive from the network (the keys API, etcd) and from files written
/// by older versions; bounding them where they enter keeps every later conversion
/// (`Int64(Double)`, a date's text form) and every tree walk (recursion per key level) safe.
public enum StoreLimits {
    /// The longest TTL a write may carry, in seconds: etcd v3's lease maximum (about 285 years).
    public static let maximumTTL: Int64 = 9_000_000_000
    /// The most components a key may have (`/a/b/c` has 3). Tree walks recurse once per level.
    public static let maximumKeyDepth = 64
    /// The longest normalized key, in UTF-8 bytes.
    public static let maximumKeyBytes = 4096
    /// The latest deadline a node is read back with: 9999-12-31T23:59:59Z, the last instant
    /// RFC 3339's four-digit year can write.
    public static let latestExpiration = Date(timeIntervalSince1970: 253_402_300_799)
    /// The earliest deadline a node is read back with (it is long past, so the key expires).
    public static let earliestExpiration = Date(timeIntervalSince1970: 0)

    /// `expiration` moved into ``earliestExpiration``...``latestExpiration``; a deadline that
    /// is not a number at all (a damaged file) counts as long past.
    public static func clamp(expiration: Date) -> Date {
        let seconds = expiration.timeIntervalSince1970
        guard !seconds.isNaN else { return earliestExpiration }
        return min(max(expiration, earliestExpiration), latestExpiration)
    }
}
