import FleetDiscovery

/// What produces names in the zone. A record belongs to four: its service (the names every
/// instance shares), its instance (its own name), its machine and its address; the apex (SOA,
/// NS, nameserver addresses) is a source of its own. A change to one instance recomputes the
/// names its four sources produce; only the service-wide ones grow with the instances.
enum ZoneSource: Hashable, Sendable, Comparable {
    case apex
    case service(String)
    case instance(service: String, instance: String)
    case machine(String)
    case address(IPAddressBytes)
}

/// A discovery record reduced to what DNS serves, with names already checked to be labels.
struct ZoneEntry: Hashable, Sendable {
    struct Port: Hashable, Sendable {
        var port: UInt16
        var proto: String?
        var name: String?
    }

    var service: String
    var instance: String
    var machine: String
    var address: IPAddressBytes
    var ports: [Port]
    /// TXT strings, `key=value` (RFC 1464), sorted by key.
    var metadata: [[UInt8]]
    var healthy: Bool
    var ttl: UInt32
    /// The first string of this instance's TXT record on the service name (`instance=…`).
    var instanceText: [UInt8]

    /// nil when the service, instance or machine name is not a label fleet serves, or the
    /// address is not an IP address.
    init?(_ record: DiscoveryRecord) {
        guard let service = Self.label(record.service), !service.hasPrefix("_"),
              let instance = Self.label(record.instance),
              let machine = Self.label(record.machineName),
              let address = IPAddressBytes(record.address)
        else { return nil }
        self.service = service
        self.instance = instance
        self.machine = machine
        self.address = address
        // Ports whose proto or name is not a label still serve the service-wide SRV answers.
        ports = record.ports.map { Port(port: $0.port, proto: Self.label($0.proto), name: $0.name.flatMap(Self.label)) }
        metadata = record.metadata.sorted { $0.key < $1.key }.map { Self.txtString(key: $0.key, value: $0.value) }
        healthy = record.healthy
        // RFC 2181 §8: a TTL with the top bit set means zero to resolvers; clamp instead.
        ttl = min(record.answerTTL, 0x7FFF_FFFF)
        instanceText = Array("instance=\(instance)".utf8)
    }

    var sources: [ZoneSource] {
        [.service(service), .instance(service: service, instance: instance), .machine(machine), .address(address)]
    }

    /// Lower case, 1–63 of letters, digits, `-` and `_`: names that read the same everywhere
    /// (dig, resolv.conf search paths, URLs). Anything else is left out of DNS, not mangled.
    static func label(_ text: String) -> String? {
        let lower = text.lowercased()
        guard (1...DNSName.maxLabelLength).contains(lower.utf8.count),
              lower.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F })
        else { return nil }
        return lower
    }

    /// `key=value` with RFC 1464's escapes in the key (`` ` `` before `=` and `` ` ``), cut at
    /// the 255 bytes a character-string holds.
    static func txtString(key: String, value: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for byte in key.utf8 {
            if byte == UInt8(ascii: "=") || byte == UInt8(ascii: "`") { bytes.append(UInt8(ascii: "`")) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value.utf8)
        return Array(bytes.prefix(255))
    }
}

/// The records each source contributes, per owner name.
enum ZoneFragments {
    static func make(_ source: ZoneSource, records: [ZoneEntry], settings: ZoneSettings) -> [DNSName: [DNSRecord]] {
        let apex = settings.apex
        // Instances in a stable order, so equal inputs give equal fragments and no re-encoding.
        // Positions are sorted rather than the entries, which are large to copy.
        let instances = records.map(\.instance), addresses = records.map(\.address)
        let sorted = records.indices.sorted {
            instances[$0] != instances[$1] ? instances[$0] < instances[$1] : addresses[$0] < addresses[$1]
        }.lazy.map { records[$0] }
        // Each owner and target name is made once per call, not once per instance, and records
        // collect in a local fragment per owner: a service's names are recomputed on every
        // change to any of its instances.
        var machineNames: [String: DNSName] = [:]
        func machineName(_ machine: String) -> DNSName? {
            if let known = machineNames[machine] { return known }
            let name = apex.prepending([machine, "machine"])
            machineNames[machine] = name
            return name
        }

        switch source {
        case .apex:
            var apexRecords = Fragment(apex), nameserver = Fragment(settings.nameserver)
            apexRecords.add(settings.apexTTL, .ns(settings.nameserver))
            apexRecords.add(settings.negativeTTL, .soa(settings.soa))
            for text in settings.nameserverAddresses {
                guard let address = IPAddressBytes(text) else { continue }
                nameserver.add(settings.apexTTL, address.recordData)
            }
            return Fragment.collect([apexRecords, nameserver])

        case let .service(service):
            guard let serviceName = apex.prepending(service) else { return [:] }
            var own = Fragment(serviceName)
            var byProtocol: [String: Fragment] = [:]  // _service._proto
            var byPortName: [String: Fragment] = [:]  // _name._proto.service
            var invalid: Set<String> = []             // those too long to be names
            // Unhealthy instances stay registered but leave every answer.
            for entry in sorted where entry.healthy {
                own.add(entry.ttl, entry.address.recordData)
                // The service name's TXT: one record per instance, named by its first string.
                own.add(entry.ttl, .txt([entry.instanceText] + entry.metadata))
                guard let target = machineName(entry.machine) else { continue }
                for port in entry.ports {
                    let srv = DNSRecordData.srv(priority: 1, weight: 1, port: port.port, target: target)
                    own.add(entry.ttl, srv)
                    guard let proto = port.proto else { continue }
                    Fragment.add(srv, entry.ttl, to: &byProtocol, key: proto, invalid: &invalid) {
                        apex.prepending(["_" + service, "_" + proto])
                    }
                    guard let name = port.name else { continue }
                    Fragment.add(srv, entry.ttl, to: &byPortName, key: name + "." + proto, invalid: &invalid) {
                        apex.prepending(["_" + name, "_" + proto, service])
                    }
                }
            }
            return Fragment.collect([own] + Array(byProtocol.values) + Array(byPortName.values))

        case let .instance(service, instance):
            guard let instanceName = apex.prepending([instance, service]) else { return [:] }
            var own = Fragment(instanceName)
            for entry in sorted where entry.healthy {
                own.add(entry.ttl, entry.address.recordData)
                if !entry.metadata.isEmpty { own.add(entry.ttl, .txt(entry.metadata)) }
                guard let target = machineName(entry.machine) else { continue }
                for port in entry.ports {
                    own.add(entry.ttl, .srv(priority: 1, weight: 1, port: port.port, target: target))
                }
            }
            return Fragment.collect([own])

        case let .machine(machine):
            // A machine's addresses are those of every record it holds, healthy or not: an
            // unhealthy service does not make the machine unreachable.
            guard let name = machineName(machine) else { return [:] }
            var own = Fragment(name)
            for entry in sorted { own.add(entry.ttl, entry.address.recordData) }
            return Fragment.collect([own])

        case let .address(address):
            var own = Fragment(address.reverseName)
            for entry in sorted {
                guard let target = machineName(entry.machine) else { continue }
                own.add(entry.ttl, .ptr(target))
            }
            return Fragment.collect([own])
        }
    }
}

/// One owner name's records from one source: one record per data, with the smallest TTL. A
/// machine with forty instances on one address contributes one A record, so adding a
/// forty-first changes nothing there, and the SRV answers that list the machine need no
/// re-encoding.
struct Fragment {
    let name: DNSName
    private(set) var records: [DNSRecord] = []
    private var positions: [DNSRecordData: Int] = [:]

    init(_ name: DNSName) { self.name = name }

    mutating func add(_ ttl: UInt32, _ data: DNSRecordData) {
        if let index = positions[data] {
            records[index].ttl = min(records[index].ttl, ttl)
        } else {
            positions[data] = records.count
            records.append(DNSRecord(name: name, ttl: ttl, data: data))
        }
    }

    /// Adds to the fragment kept under `key` in `fragments`, naming it with `name()` the first
    /// time; keys whose name is not valid (too long) are remembered in `invalid` and skipped.
    static func add(_ data: DNSRecordData, _ ttl: UInt32, to fragments: inout [String: Fragment], key: String,
                    invalid: inout Set<String>, name: () -> DNSName?) {
        if fragments[key] == nil {
            guard !invalid.contains(key) else { return }
            guard let made = name() else {
                invalid.insert(key)
                return
            }
            fragments[key] = Fragment(made)
        }
        fragments[key]?.add(ttl, data)
    }

    /// The non-empty fragments by name (distinct names: each source makes each name once).
    static func collect(_ fragments: [Fragment]) -> [DNSName: [DNSRecord]] {
        var out: [DNSName: [DNSRecord]] = [:]
        for fragment in fragments where !fragment.records.isEmpty { out[fragment.name, default: []] += fragment.records }
        return out
    }
}
