import FleetDiscovery

/// What produces names in the zone. A record belongs to three: its service, its machine and
/// its address; the apex (SOA, NS, nameserver addresses) is a source of its own.
enum ZoneSource: Hashable, Sendable, Comparable {
    case apex
    case service(String)
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
    }

    var sources: [ZoneSource] { [.service(service), .machine(machine), .address(address)] }

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
        var out: [DNSName: [DNSRecord]] = [:]
        let apex = settings.apex
        func add(_ labels: [String], _ ttl: UInt32, _ data: DNSRecordData) {
            guard let name = apex.prepending(labels) else { return }  // longer than 255 bytes
            out[name, default: []].append(DNSRecord(name: name, ttl: ttl, data: data))
        }
        // Instances in a stable order, so equal inputs give equal fragments and no re-encoding.
        let sorted = records.sorted { ($0.instance, $0.address) < ($1.instance, $1.address) }

        switch source {
        case .apex:
            add([], settings.apexTTL, .ns(settings.nameserver))
            add([], settings.negativeTTL, .soa(settings.soa))
            for text in settings.nameserverAddresses {
                guard let address = IPAddressBytes(text) else { continue }
                let name = settings.nameserver
                out[name, default: []].append(DNSRecord(name: name, ttl: settings.apexTTL, data: address.recordData))
            }

        case let .service(service):
            // Unhealthy instances stay registered but leave every answer.
            for entry in sorted where entry.healthy {
                add([service], entry.ttl, entry.address.recordData)
                add([entry.instance, service], entry.ttl, entry.address.recordData)
                // The service name's TXT: one record per instance, named by its first string.
                add([service], entry.ttl, .txt([Array("instance=\(entry.instance)".utf8)] + entry.metadata))
                if !entry.metadata.isEmpty { add([entry.instance, service], entry.ttl, .txt(entry.metadata)) }
                guard let target = apex.prepending([entry.machine, "machine"]) else { continue }
                for port in entry.ports {
                    let srv = DNSRecordData.srv(priority: 1, weight: 1, port: port.port, target: target)
                    add([service], entry.ttl, srv)
                    add([entry.instance, service], entry.ttl, srv)
                    guard let proto = port.proto else { continue }
                    add(["_" + service, "_" + proto], entry.ttl, srv)
                    if let name = port.name { add(["_" + name, "_" + proto, service], entry.ttl, srv) }
                }
            }

        case let .machine(machine):
            // A machine's addresses are those of every record it holds, healthy or not: an
            // unhealthy service does not make the machine unreachable.
            for entry in sorted { add([machine, "machine"], entry.ttl, entry.address.recordData) }

        case let .address(address):
            for entry in sorted {
                guard let target = apex.prepending([entry.machine, "machine"]) else { continue }
                let name = address.reverseName
                out[name, default: []].append(DNSRecord(name: name, ttl: entry.ttl, data: .ptr(target)))
            }
        }
        return out.mapValues(deduplicated)
    }

    /// One record per (name, data), with the smallest TTL. A machine with forty instances on
    /// one address contributes one A record, so adding a forty-first changes nothing there,
    /// and the SRV answers that list the machine need no re-encoding.
    static func deduplicated(_ records: [DNSRecord]) -> [DNSRecord] {
        var position: [DNSRecordData: Int] = [:]
        var unique: [DNSRecord] = []
        for record in records {
            if let index = position[record.data] {
                unique[index].ttl = min(unique[index].ttl, record.ttl)
            } else {
                position[record.data] = unique.count
                unique.append(record)
            }
        }
        return unique
    }
}
