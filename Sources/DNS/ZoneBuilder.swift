import FleetDiscovery

/// Keeps the discovery records and the answer table in step, one change at a time.
///
/// A change to one record touches only the names it contributes to: its service's names, its
/// machine's name and its address's PTR name (its *sources*). Each source's records are turned
/// into per-name fragments; names that several sources produce (a service named like the
/// nameserver, say) get the fragments merged. Only names whose content changed are re-encoded,
/// plus the SRV owners whose additional section shows a changed machine name. Every other
/// prepared answer is shared, unchanged, with the previous view.
public struct ZoneBuilder: Sendable {
    public let settings: ZoneSettings
    /// Records by store key, as validated (invalid ones are not kept).
    private(set) var entries: [String: ZoneEntry] = [:]
    private var keysBySource: [ZoneSource: Set<String>] = [:]
    private var fragments: [DNSName: [ZoneSource: [DNSRecord]]] = [:]
    private var namesBySource: [ZoneSource: Set<DNSName>] = [:]
    /// Merged records per owner name.
    private var contents: [DNSName: [DNSRecord]] = [:]
    /// For each in-zone name without records of its own: how many names with records lie below.
    private var descendantCounts: [DNSName: Int] = [:]
    /// Names whose SRV or NS answers carry a target's addresses in the additional section.
    private var dependents: [DNSName: Set<DNSName>] = [:]
    private var targetsOf: [DNSName: Set<DNSName>] = [:]
    private var table = NameTable()
    private var generation: UInt64 = 0
    private var negativeSOATail: [UInt8]
    /// Sources changed since the last view. Names are recomputed when a view is taken, so a
    /// batch of changes (a full load, a burst of events) costs one re-encoding per name.
    private var pending: Set<ZoneSource> = []
    /// How many records the last ``view()`` encoded afresh (the names a change touched, in full):
    /// what that view cost, for ``ZoneBuildPacer``. Names only re-encoded for their additional
    /// section are not counted.
    private(set) var lastEncodedRecords = 0

    public init(settings: ZoneSettings = ZoneSettings()) {
        self.settings = settings
        var writer = DNSWireWriter()
        writer.record(DNSRecord(name: .root, ttl: settings.negativeTTL, data: .soa(settings.soa)), compress: false)
        negativeSOATail = Array(writer.bytes.dropFirst())  // drop the root owner byte
        pending = [.apex]
    }

    /// The number of records held (valid ones).
    public var recordCount: Int { entries.count }

    /// Adds or replaces the record stored at `key`.
    ///
    /// - Returns: false when the record cannot be served (a name that is not a DNS label, an
    ///   address that is not an IP address); any earlier record at `key` is removed then.
    @discardableResult
    public mutating func upsert(_ record: DiscoveryRecord, key: String) -> Bool {
        guard let entry = ZoneEntry(record) else {
            remove(key: key)
            return false
        }
        var affected = Set(entry.sources)
        if let old = entries[key] {
            if old == entry { return true }
            affected.formUnion(old.sources)
            unindex(old, key: key)
        }
        entries[key] = entry
        for source in entry.sources { keysBySource[source, default: []].insert(key) }
        pending.formUnion(affected)
        return true
    }

    public mutating func remove(key: String) {
        guard let old = entries.removeValue(forKey: key) else { return }
        unindex(old, key: key)
        pending.formUnion(old.sources)
    }

    /// Removes every record whose key is `prefix` or lies below it (a deleted directory).
    public mutating func removeAll(under prefix: String) {
        let doomed = entries.keys.filter { $0 == prefix || prefix == "/" || $0.hasPrefix(prefix + "/") }
        var affected: Set<ZoneSource> = []
        for key in doomed {
            let old = entries.removeValue(forKey: key)!
            unindex(old, key: key)
            affected.formUnion(old.sources)
        }
        pending.formUnion(affected)
    }

    /// Replaces all records (after a full re-read of the store).
    public mutating func replaceAll(_ records: [(key: String, record: DiscoveryRecord)]) {
        var fresh = ZoneBuilder(settings: settings)
        fresh.generation = generation
        for (key, record) in records { fresh.upsert(record, key: key) }
        self = fresh
    }

    /// A snapshot of the current state, for the responder: re-encodes what changed since the
    /// last one.
    public mutating func view() -> ZoneView {
        lastEncodedRecords = 0
        if !pending.isEmpty {
            refresh(pending)
            pending = []
        }
        generation += 1
        return ZoneView(apex: settings.apex, generation: generation, table: table, negativeSOATail: negativeSOATail)
    }

    private mutating func unindex(_ entry: ZoneEntry, key: String) {
        for source in entry.sources {
            keysBySource[source]?.remove(key)
            if keysBySource[source]?.isEmpty == true { keysBySource[source] = nil }
        }
    }

    // MARK: Recomputing names

    private mutating func refresh(_ sources: Set<ZoneSource>) {
        var changed: Set<DNSName> = []
        for source in sources {
            let records = (keysBySource[source] ?? []).compactMap { entries[$0] }
            let fresh = ZoneFragments.make(source, records: records, settings: settings)
            for name in namesBySource[source] ?? [] where fresh[name] == nil {
                fragments[name]?[source] = nil
                if fragments[name]?.isEmpty == true { fragments[name] = nil }
                changed.insert(name)
            }
            for (name, records) in fresh where fragments[name]?[source] != records {
                fragments[name, default: [:]][source] = records
                changed.insert(name)
            }
            namesBySource[source] = fresh.isEmpty ? nil : Set(fresh.keys)
        }

        var toEncode: Set<DNSName> = []
        for name in changed {
            let merged = Self.merge(fragments[name] ?? [:])
            if merged.isEmpty {
                if contents.removeValue(forKey: name) != nil {
                    toEncode.insert(name)
                    toEncode.formUnion(adjustAncestors(of: name, by: -1))
                }
            } else if contents[name] != merged {
                let isNew = contents[name] == nil
                contents[name] = merged
                toEncode.insert(name)
                if isNew { toEncode.formUnion(adjustAncestors(of: name, by: 1)) }
            }
        }
        // Owners whose SRV or NS additional section shows a changed name: only those answers
        // need encoding again; the rest of such a node is reused as it is.
        var additionalOnly: Set<DNSName> = []
        for name in toEncode {
            for owner in dependents[name] ?? [] where !toEncode.contains(owner) { additionalOnly.insert(owner) }
        }
        for name in toEncode {
            lastEncodedRecords += contents[name]?.count ?? 0
            encode(name)
        }
        for name in additionalOnly { encode(name, reusing: table.lookup(name)) }
    }

    /// One name's records from all its sources, in source order, one per data with the smallest
    /// TTL (as each fragment already is: most names have a single source).
    static func merge(_ bySource: [ZoneSource: [DNSRecord]]) -> [DNSRecord] {
        guard bySource.count > 1 else { return bySource.first?.value ?? [] }
        let ordered = bySource.sorted { $0.key < $1.key }.flatMap(\.value)
        guard let name = ordered.first?.name else { return [] }
        var unique = Fragment(name)
        for record in ordered { unique.add(record.ttl, record.data) }
        return unique.records
    }

    /// Keeps the empty non-terminals between `name` and the apex (`machine.fleet.`,
    /// `_tcp.fleet.`): they exist, so they answer NODATA rather than NXDOMAIN (RFC 8020).
    private mutating func adjustAncestors(of name: DNSName, by delta: Int) -> [DNSName] {
        guard name.isSubdomain(of: settings.apex) else { return [] }
        var touched: [DNSName] = []
        var ancestor = name.parent
        while ancestor.labels.count > settings.apex.labels.count {
            let count = (descendantCounts[ancestor] ?? 0) + delta
            descendantCounts[ancestor] = count > 0 ? count : nil
            touched.append(ancestor)
            ancestor = ancestor.parent
        }
        return touched
    }

    private mutating func encode(_ name: DNSName, reusing existing: ZoneNode? = nil) {
        for target in targetsOf.removeValue(forKey: name) ?? [] {
            dependents[target]?.remove(name)
            if dependents[target]?.isEmpty == true { dependents[target] = nil }
        }
        let records = contents[name] ?? []
        guard !records.isEmpty || descendantCounts[name] != nil || name == settings.apex else {
            table.remove(name)
            return
        }
        let encoded = ZoneNodeEncoder.encode(name: name, records: records, settings: settings, reusing: existing) {
            contents[$0] ?? []
        }
        if !encoded.targets.isEmpty {
            targetsOf[name] = encoded.targets
            for target in encoded.targets { dependents[target, default: []].insert(name) }
        }
        table.insert(encoded.node)
    }
}
