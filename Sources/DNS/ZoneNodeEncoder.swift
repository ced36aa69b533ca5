/// Turns one owner name's records into a ``ZoneNode`` of prepared answers.
enum ZoneNodeEncoder {
    /// RRsets in the order they are encoded.
    static let typeOrder: [DNSRecordType] = [.soa, .ns, .a, .aaaa, .srv, .txt, .ptr]
    /// Types whose order is shuffled (clients tend to take the first address or target).
    static let shuffledTypes: Set<DNSRecordType> = [.a, .aaaa, .srv]

    /// - Parameter records: the records of `name`, merged from every source, one per data.
    /// - Parameter existing: when only additional sections changed (a target's addresses), the
    ///   current node: its answers without additional data are reused instead of re-encoded.
    /// - Parameter recordsOf: the records of another name, for SRV targets and NS glue.
    /// - Returns: the node, and the names whose addresses went into additional sections.
    static func encode(name: DNSName, records: [DNSRecord], settings: ZoneSettings, reusing existing: ZoneNode? = nil,
                       recordsOf: (DNSName) -> [DNSRecord]) -> (node: ZoneNode, targets: Set<DNSName>) {
        var targets: Set<DNSName> = []
        var answers: [(type: UInt16, variants: [PreparedAnswer])] = []
        var all: [DNSRecord] = []
        for (type, records) in zip(typeOrder, rrsets(records)) {
            let rrset = normalized(records)
            guard !rrset.isEmpty else { continue }
            all += rrset
            if let existing, type != .srv, type != .ns, let variants = existing.variants(for: type.rawValue) {
                answers.append((type.rawValue, variants))
                continue
            }
            let orders = shuffledTypes.contains(type) ? permutations(of: rrset, count: settings.shuffleVariants) : [rrset]
            let variants = orders.map { order -> PreparedAnswer in
                var additional: [DNSRecord] = []
                if type == .srv || type == .ns {
                    var seen: Set<DNSName> = []
                    for record in order {
                        guard let target = record.data.targetName, seen.insert(target).inserted else { continue }
                        targets.insert(target)
                        let addresses = recordsOf(target)
                        additional += normalized(addresses.filter { $0.type == .a })
                        additional += normalized(addresses.filter { $0.type == .aaaa })
                    }
                }
                return PreparedAnswer.encode(question: name, answers: order, additional: additional)
            }
            answers.append((type.rawValue, variants))
        }
        let authoritative = name.isSubdomain(of: settings.apex)
        let noData = existing?.noData ?? (authoritative
            ? PreparedAnswer.encode(question: name, answers: [], authority: [settings.soaRecord])
            : PreparedAnswer.empty)
        let any = existing.map(\.any) ?? (all.isEmpty ? nil : PreparedAnswer.encode(question: name, answers: [minimalAny(name)]))
        let node = ZoneNode(name: name, authoritative: authoritative, answers: answers, any: any, noData: noData)
        return (node, targets)
    }

    /// The whole answer to an ANY question (RFC 8482 §4.2): one synthesised HINFO record, CPU
    /// "RFC8482", OS empty. A name with 200 instances would otherwise answer ANY with every
    /// RRset (A, TXT, SRV with glue), the largest reply fleet-dns can be made to send for a
    /// 30-byte question, which is what reflection attacks look for. Nothing in service
    /// discovery needs ANY; askers who do get the hint to ask for the type they want.
    static func minimalAny(_ name: DNSName) -> DNSRecord {
        let cpu = Array("RFC8482".utf8)
        return DNSRecord(name: name, ttl: 3600,
                         data: .unknown(type: .hinfo, bytes: [UInt8(cpu.count)] + cpu + [0]))
    }

    /// `records` split by type, in ``typeOrder`` (other types left out), in one pass.
    static func rrsets(_ records: [DNSRecord]) -> [[DNSRecord]] {
        var sets = [[DNSRecord]](repeating: [], count: typeOrder.count)
        for record in records {
            guard let index = typeOrder.firstIndex(of: record.type) else { continue }
            sets[index].append(record)
        }
        return sets
    }

    /// One RRset (its records already one per data, RFC 2181 §5: the builder's fragments are)
    /// with one TTL for all, the smallest (§5.2).
    static func normalized(_ records: [DNSRecord]) -> [DNSRecord] {
        guard let ttl = records.lazy.map(\.ttl).min() else { return [] }
        if records.allSatisfy({ $0.ttl == ttl }) { return records }
        var same = records
        for index in same.indices { same[index].ttl = ttl }
        return same
    }

    /// Up to `count` orders of `records`. Small sets get every permutation; larger ones get
    /// shuffles whose first elements are spread evenly, so each record leads equally often.
    static func permutations(of records: [DNSRecord], count: Int) -> [[DNSRecord]] {
        guard records.count > 1, count > 1 else { return [records] }
        if records.count <= 3 {
            let all = allPermutations(records)
            return all.count <= count ? all : Array(all.shuffled().prefix(count))
        }
        var generator = SystemRandomNumberGenerator()
        let base = records.shuffled(using: &generator)
        return (0..<count).map { variant in
            let first = variant * base.count / count
            var order = Array(base[first...] + base[..<first])
            order[1...].shuffle(using: &generator)
            return order
        }
    }

    private static func allPermutations(_ items: [DNSRecord]) -> [[DNSRecord]] {
        guard items.count > 1 else { return [items] }
        var result: [[DNSRecord]] = []
        for (index, item) in items.enumerated() {
            var rest = items
            rest.remove(at: index)
            for tail in allPermutations(rest) { result.append([item] + tail) }
        }
        return result
    }
}

extension DNSRecordData {
    /// The name an SRV or NS record points at, whose addresses belong in the additional section.
    var targetName: DNSName? {
        switch self {
        case let .srv(_, _, _, target): target
        case let .ns(target): target
        default: nil
        }
    }
}
