import FleetStore

/// Our extension to the keys API, not etcd's: `POST /v2/batch` carries several writes in one
/// request, shared by the server route (`KeysAPI`) and ``RemoteStore``.
///
/// Why: in a start of 200 units on three machines, the other two machines' fleetds send the
/// store's machine some 350 single writes (unit states, discovery records), and serving them
/// (TLS records, HTTP parsing, routing, role checks, one reply each) was about 60 % of that
/// machine's CPU while every core was busy. One request per batch pays that once.
///
/// Each write is the single request it stands for: a method, a key, the query string and the
/// form body, read by the same code as `/v2/keys<key>?<query>` with that body, and checked by
/// the same role rules. The writes of a batch are applied concurrently, in no order, so a batch
/// must not name a key twice or a key and one of its ancestors (``V2Batch/conflict(in:)``); the
/// server refuses one that does. A server that lists `batch` in `X-Fleet-Store-Features` also
/// checks guards and owners (``RemoteStore`` needs no per-write confirmation).
package enum V2Batch {
    package static let path = "/v2/batch"
    /// The most writes one batch may carry.
    package static let maxWrites = 128
    /// The feature `X-Fleet-Store-Features` names.
    package static let feature = "batch"

    package struct Write: Codable, Sendable, Equatable {
        /// `PUT`, `POST` or `DELETE`.
        package var method: String
        /// The key, not percent-encoded.
        package var key: String
        /// As a request's query string (percent-encoded), without the `?`.
        package var query: String?
        /// As a request's `application/x-www-form-urlencoded` body.
        package var form: String?

        package init(method: String, key: String, query: String? = nil, form: String? = nil) {
            self.method = method
            self.key = key
            self.query = query
            self.form = form
        }
    }

    package struct Request: Codable, Sendable {
        package var writes: [Write]
        package init(writes: [Write]) { self.writes = writes }
    }

    /// One write's answer, in the order of the request: the status its own request would
    /// have had, and its event (2xx) or its etcd error.
    package struct Answer: Codable, Sendable {
        package var status: Int
        package var event: V2Event?
        package var error: V2Error?

        package init(status: Int, event: V2Event? = nil, error: V2Error? = nil) {
            self.status = status
            self.event = event
            self.error = error
        }
    }

    package struct Reply: Codable, Sendable {
        package var results: [Answer]
    }

    /// The keys a write touches: the one it writes, and those whose state it depends on (its
    /// guard's key, its owner).
    package struct Footprint: Sendable {
        package var written: String
        package var read: [String]

        package init(written: String, read: [String]) {
            self.written = written
            self.read = read
        }

        /// A write of `key` guarded by `guardKey` or attached to `owner`, keys as the server reads
        /// them (normalized; one it cannot read is kept as it is).
        package init(key: String, guardKey: String?, owner: String?) {
            func normalized(_ key: String) -> String { (try? StoreKey.normalize(key)) ?? key }
            self.init(written: normalized(key), read: [guardKey, owner].compactMap { $0 }.map(normalized))
        }

        /// Whether applying the two in either order could differ: one writes a key the other
        /// writes or reads, or an ancestor or descendant of one.
        package func overlaps(_ other: Footprint) -> Bool {
            V2Batch.related(written, other.written)
                || other.read.contains { V2Batch.related(written, $0) }
                || read.contains { V2Batch.related(other.written, $0) }
        }
    }

    /// Whether `a` and `b` (normalized keys) are the same key or one is below the other.
    package static func related(_ a: String, _ b: String) -> Bool {
        if a == b || a == "/" || b == "/" { return true }
        let (short, long) = a.utf8.count < b.utf8.count ? (a, b) : (b, a)
        return long.hasPrefix(short) && long.utf8.dropFirst(short.utf8.count).first == UInt8(ascii: "/")
    }

    /// A pair of writes (positions) that must not share a batch; nil when there is none.
    ///
    /// Linear in the keys' segments rather than pairwise: a batch of 128 writes with long keys
    /// (a hostile client's) would otherwise be 8,128 pairs of prefix comparisons.
    package static func conflict(in footprints: [Footprint]) -> (Int, Int)? {
        // Each written key, by its write; and each key that has written keys below it, with up
        // to two of their writes (one of them may be the asking write itself).
        var written: [String: Int] = [:]
        var below: [String: [Int]] = [:]
        for (position, footprint) in footprints.enumerated() {
            if let other = written.updateValue(position, forKey: footprint.written) { return (other, position) }
            for ancestor in ancestors(of: footprint.written) where below[ancestor, default: []].count < 2 {
                below[ancestor, default: []].append(position)
            }
        }
        for (position, footprint) in footprints.enumerated() {
            for key in [footprint.written] + footprint.read {
                let others = ([written[key]] + ancestors(of: key).map { written[$0] }).compactMap { $0 } + (below[key] ?? [])
                if let other = others.first(where: { $0 != position }) { return (min(other, position), max(other, position)) }
            }
        }
        return nil
    }

    /// `/a/b/c` → `/a/b`, `/a`, `/`.
    static func ancestors(of key: String) -> [String] {
        guard key != "/" else { return [] }
        var result: [String] = []
        var rest = Substring(key)
        while let slash = rest.lastIndex(of: "/") {
            rest = rest[..<slash]
            result.append(rest.isEmpty ? "/" : String(rest))
            if rest.isEmpty { break }
        }
        return result
    }
}
