import FleetDiscovery
/// One DNS-SD service instance as the mDNS bridge announces it through avahi: the pure mapping
/// from a ``DiscoveryRecord``, kept apart from libavahi so it can be tested without a daemon.
///
/// A record `web/1` with `Port=8080`, tag `frontend` and metadata `version=1` becomes
/// `web-1._web._tcp.local` on port 8080, with subtype `_frontend._sub._web._tcp` and TXT
/// `unit=web@1.service machine=<id> tags=frontend version=1`.
public struct MDNSService: Sendable, Hashable {
    /// The instance name asked for: `<service>-<instance>`. avahi may end up announcing
    /// `<name> #2` when another host already holds it.
    public var name: String
    /// `_<service>._tcp`, `_<service>._udp` (by the first port's protocol), or metadata `mdns-type`.
    public var type: String
    public var port: UInt16
    /// `_<tag>._sub.<type>`, one per tag, so `avahi-browse _frontend._sub._web._tcp` finds it.
    public var subtypes: [String]
    /// `key=value` strings in announcement order.
    public var txt: [String]

    public init(name: String, type: String, port: UInt16, subtypes: [String] = [], txt: [String] = []) {
        self.name = name
        self.type = type
        self.port = port
        self.subtypes = subtypes
        self.txt = txt
    }

    /// Metadata key that overrides the service type (`_http._tcp` for a service named `web`).
    /// Keys with the `mdns-` prefix steer the bridge and are not copied into TXT.
    public static let typeOverrideKey = "mdns-type"

    /// The announcement for `record`, or nil when DNS-SD cannot carry it (no port: an SRV record
    /// needs one; or a service name that cannot form a `_name._tcp` label).
    public init?(record: DiscoveryRecord) {
        guard let first = record.ports.first, first.port != 0 else { return nil }
        let proto = first.proto.lowercased() == "udp" ? "_udp" : "_tcp"
        let label = Self.label(record.service)
        guard !label.isEmpty else { return nil }
        let type = record.metadata[Self.typeOverrideKey].flatMap { $0.isEmpty ? nil : $0 } ?? "_\(label).\(proto)"

        var txt: [String] = []
        if let unit = record.unit { txt.append("unit=\(unit)") }
        txt.append("machine=\(record.machineID)")
        if !record.tags.isEmpty { txt.append("tags=\(record.tags.joined(separator: ","))") }
        let reserved: Set<String> = ["unit", "machine", "tags"]
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            // A key may not be empty or contain '=' (RFC 6763 §6.4); the fixed keys win over metadata
            // because clients rely on them; mdns-* keys are instructions to the bridge, not data.
            guard !key.isEmpty, !key.contains("="), !reserved.contains(key), !key.hasPrefix("mdns-") else { continue }
            txt.append("\(key)=\(value)")
        }
        // One TXT string carries at most 255 bytes; a longer one would make avahi reject the service.
        txt = txt.filter { $0.utf8.count <= 255 }

        var subtypes: [String] = []
        for tag in record.tags {
            let sub = Self.label(tag)
            let subtype = "_\(sub)._sub.\(type)"
            if !sub.isEmpty, !subtypes.contains(subtype) { subtypes.append(subtype) }
        }

        self.init(name: Self.truncated("\(record.service)-\(record.instance)", toBytes: 63), type: type,
                  port: first.port, subtypes: subtypes, txt: txt)
    }

    /// True when `other` announces the same service and only the TXT differs: avahi can then
    /// update it in place instead of withdrawing and re-probing the name.
    public func differsOnlyInTXT(from other: MDNSService) -> Bool {
        name == other.name && type == other.type && port == other.port && subtypes == other.subtypes
            && txt != other.txt
    }

    /// `name` as one DNS label for a service type or subtype: lowercase letters, digits and
    /// hyphens (RFC 6335 §5.1), other characters dropped, at most 63 bytes.
    static func label(_ name: String) -> String {
        let allowed = name.lowercased().unicodeScalars.filter {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
        return String(String.UnicodeScalarView(allowed.prefix(63)))
    }

    /// `text` cut to at most `limit` UTF-8 bytes without splitting a character: an instance
    /// name is one DNS label.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        for character in text {
            if result.utf8.count + character.utf8.count > limit { break }
            result.append(character)
        }
        return result
    }
}
