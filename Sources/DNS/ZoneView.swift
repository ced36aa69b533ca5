/// An immutable snapshot of everything fleet-dns answers, with each answer ready as wire bytes.
///
/// The responder never reads the store: ``ZoneFeed`` applies watch events to a ``ZoneBuilder``
/// and publishes a new `ZoneView` after each change. Each event loop holds its own reference to
/// the current view (swapped on that loop), so queries take no lock and build no records: a
/// query is a hash lookup on the question's bytes plus a copy of a prepared answer.
public struct ZoneView: Sendable {
    /// The zone served authoritatively (`fleet.` by default), lower case.
    public let apex: DNSName
    /// How many times the builder has published: newer views have larger generations.
    public let generation: UInt64
    let apexKey: [UInt8]
    let table: NameTable
    /// An NXDOMAIN's authority record (the apex SOA) from its type field on; the owner is a
    /// pointer into the question written per query, since the question's length varies.
    let negativeSOATail: [UInt8]
    /// False until the first load from the store: such a view answers SERVFAIL, so resolvers
    /// retry instead of caching an NXDOMAIN for a name that is only not loaded yet.
    public let isReady: Bool

    init(apex: DNSName, generation: UInt64, table: NameTable, negativeSOATail: [UInt8], isReady: Bool = true) {
        self.apex = apex
        self.apexKey = apex.lowercased().wire
        self.generation = generation
        self.table = table
        self.negativeSOATail = negativeSOATail
        self.isReady = isReady
    }

    /// How many owner names (including empty non-terminals) the view answers for.
    public var nameCount: Int { table.count }

    /// The owner names in the view, sorted, for logs and tests.
    public var names: [DNSName] { table.nodes.map(\.name).sorted { $0.description < $1.description } }
}

/// Answers for one owner name, by query type.
final class ZoneNode: Sendable {
    let name: DNSName
    /// Lower-case uncompressed wire form: the table key.
    let key: [UInt8]
    let hash: UInt64
    /// False for reverse (PTR) names, which lie outside the zone fleet-dns is authoritative for.
    let authoritative: Bool
    /// Prepared answers per type; several variants when the order is shuffled.
    let answers: [(type: UInt16, variants: [PreparedAnswer])]
    /// For ANY (RFC 8482 allows less; a node here has few RRsets, so all of them).
    let any: PreparedAnswer?
    /// NOERROR without answers (NODATA): the SOA in authority, or nothing outside the zone.
    let noData: PreparedAnswer

    init(name: DNSName, authoritative: Bool, answers: [(type: UInt16, variants: [PreparedAnswer])],
         any: PreparedAnswer?, noData: PreparedAnswer) {
        self.name = name.lowercased()
        self.key = self.name.wire
        self.hash = NameHash.of(key)
        self.authoritative = authoritative
        self.answers = answers
        self.any = any
        self.noData = noData
    }

    @inline(__always)
    func variants(for type: UInt16) -> [PreparedAnswer]? {
        for entry in answers where entry.type == type { return entry.variants }
        return nil
    }
}

/// The sections after the question of one response, as bytes, with what is needed to trim it.
///
/// Encoded as if the question (the owner name, uncompressed) started at offset 12, which holds
/// for every query for this name whatever its letter case, so pointers to it stay valid.
final class PreparedAnswer: Sendable {
    let body: [UInt8]
    let answerCount: UInt16
    let authorityCount: UInt16
    let additionalCount: UInt16
    /// Where each answer record ends in `body`: a UDP reply too big for the client keeps the
    /// first answers that fit (pointers only point backwards, so any prefix is valid).
    let answerEnds: [Int]
    /// True when the name has more answers than one DNS message can carry (over TCP, 65,535
    /// bytes): the rest were left out and every reply sets TC, as a server must.
    let isCapped: Bool

    /// The largest DNS message (its length is a 16-bit field, and so are its record counts).
    static let maximumMessageBytes = Int(UInt16.max)

    init(body: [UInt8], answerCount: Int, authorityCount: Int, additionalCount: Int, answerEnds: [Int],
         isCapped: Bool = false) {
        self.body = body
        // Clamped, never trapping; `encode` keeps every count far below the limit anyway.
        self.answerCount = UInt16(clamping: answerCount)
        self.authorityCount = UInt16(clamping: authorityCount)
        self.additionalCount = UInt16(clamping: additionalCount)
        self.answerEnds = answerEnds
        self.isCapped = isCapped
    }

    static let empty = PreparedAnswer(body: [], answerCount: 0, authorityCount: 0, additionalCount: 0, answerEnds: [])

    /// Encodes sections for a question `name` (of any type and class: only its length matters).
    ///
    /// Answers stop at the first that would not fit one message (a name can hold any number of
    /// instances; a message at most 65,535 bytes), and then authority and additional records
    /// are left out too: the answer is marked ``isCapped``.
    static func encode(question name: DNSName, answers: [DNSRecord], authority: [DNSRecord] = [],
                       additional: [DNSRecord] = []) -> PreparedAnswer {
        var writer = DNSWireWriter()
        for _ in 0..<DNSHeaderBits.headerLength { writer.u8(0) }
        writer.raw(name.wire)
        writer.registerName(name, at: DNSHeaderBits.headerLength)
        writer.u32(0)  // type and class
        let bodyStart = writer.count
        var ends: [Int] = []
        var isCapped = false
        for record in answers {
            writer.record(record)
            // Room is left for an OPT record (11 bytes), which the responder appends.
            guard writer.count + 11 <= maximumMessageBytes else {
                isCapped = true
                break
            }
            ends.append(writer.count - bodyStart)
        }
        if isCapped {
            let kept = bodyStart + (ends.last ?? 0)
            return PreparedAnswer(body: Array(writer.bytes[bodyStart..<kept]), answerCount: ends.count,
                                  authorityCount: 0, additionalCount: 0, answerEnds: ends, isCapped: true)
        }
        for record in authority + additional { writer.record(record) }
        return PreparedAnswer(body: Array(writer.bytes[bodyStart...]), answerCount: answers.count,
                              authorityCount: authority.count, additionalCount: additional.count, answerEnds: ends)
    }
}

/// FNV-1a over lower-cased wire bytes: cheap, allocation-free, and computed while the query's
/// name is walked. Only our own names are in the table, so collisions cannot be forced into it.
enum NameHash {
    static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

    @inline(__always)
    static func add(_ hash: inout UInt64, _ byte: UInt8) {
        hash = (hash ^ UInt64(DNSName.asciiLower(byte))) &* 0x0000_0100_0000_01b3
    }

    static func of(_ bytes: [UInt8]) -> UInt64 {
        var hash = seed
        for byte in bytes { add(&hash, byte) }
        return hash
    }
}

/// Open addressing with linear probing, keyed by a name's lower-case wire bytes, looked up with
/// the raw bytes of a query (any case) so the per-query path allocates nothing.
/// Deletion shifts later entries back (no tombstones), so lookups stay short under churn.
struct NameTable: Sendable {
    private var slots: [ZoneNode?]
    private(set) var count = 0

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: nil, count: size)
    }

    var nodes: [ZoneNode] { slots.compactMap { $0 } }

    @inline(__always)
    private var mask: Int { slots.count - 1 }

    func lookup(_ name: UnsafeRawBufferPointer, hash: UInt64) -> ZoneNode? {
        var index = Int(truncatingIfNeeded: hash) & mask
        while let node = slots[index] {
            if node.hash == hash, Self.keyMatches(node.key, name) { return node }
            index = (index + 1) & mask
        }
        return nil
    }

    func lookup(_ name: DNSName) -> ZoneNode? {
        let key = name.lowercased().wire
        return key.withUnsafeBytes { lookup($0, hash: NameHash.of(key)) }
    }

    @inline(__always)
    static func keyMatches(_ key: [UInt8], _ name: UnsafeRawBufferPointer) -> Bool {
        guard key.count == name.count else { return false }
        return key.withUnsafeBufferPointer { k in
            for i in 0..<k.count where k[i] != DNSName.asciiLower(name[i]) { return false }
            return true
        }
    }

    /// Adds `node`, replacing a node with the same name.
    mutating func insert(_ node: ZoneNode) {
        if (count + 1) * 2 > slots.count { grow() }
        var index = Int(truncatingIfNeeded: node.hash) & mask
        while let existing = slots[index] {
            if existing.hash == node.hash, existing.key == node.key {
                slots[index] = node
                return
            }
            index = (index + 1) & mask
        }
        slots[index] = node
        count += 1
    }

    mutating func remove(_ name: DNSName) {
        let key = name.lowercased().wire
        let hash = NameHash.of(key)
        var index = Int(truncatingIfNeeded: hash) & mask
        while let existing = slots[index] {
            if existing.hash == hash, existing.key == key { break }
            index = (index + 1) & mask
        }
        guard slots[index] != nil else { return }
        slots[index] = nil
        count -= 1
        // Backward-shift: move up any entry of the same probe run that would now be unreachable.
        var hole = index
        var next = (index + 1) & mask
        while let node = slots[next] {
            let home = Int(truncatingIfNeeded: node.hash) & mask
            // The entry may fill the hole unless its home lies cyclically in (hole, next].
            let homeInRange = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !homeInRange {
                slots[hole] = node
                slots[next] = nil
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: nil, count: old.count * 2)
        count = 0
        for case let node? in old { insert(node) }
    }
}
