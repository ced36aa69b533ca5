/// A DNS message (RFC 1035 §4) as a value: header, the four sections and EDNS(0).
///
/// This is the structured form used to build precomputed answers, by the slow paths and by
/// tests. The per-query fast path does not build it: ``DNSResponder`` reads the query's bytes in
/// place and copies ready-made answer bytes (see `ZoneView`).
public struct DNSMessage: Hashable, Sendable {
    public var id: UInt16
    public var isResponse: Bool
    public var opcode: DNSOpcode
    public var isAuthoritative: Bool
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    public var authenticData: Bool
    public var checkingDisabled: Bool
    /// The full response code: the header's four bits, plus EDNS's extended bits when there is an OPT.
    public var rcode: DNSResponseCode
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authority: [DNSRecord]
    /// The additional section without the OPT pseudo-record, which is ``edns``.
    public var additional: [DNSRecord]
    public var edns: DNSEDNS?

    public init(id: UInt16 = 0, isResponse: Bool = false, opcode: DNSOpcode = .query,
                isAuthoritative: Bool = false, isTruncated: Bool = false, recursionDesired: Bool = false,
                recursionAvailable: Bool = false, authenticData: Bool = false, checkingDisabled: Bool = false,
                rcode: DNSResponseCode = .noError, questions: [DNSQuestion] = [], answers: [DNSRecord] = [],
                authority: [DNSRecord] = [], additional: [DNSRecord] = [], edns: DNSEDNS? = nil) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcode = rcode
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
        self.edns = edns
    }

    /// A query for one name and type, as a stub resolver sends it.
    public static func query(_ name: DNSName, _ type: DNSRecordType, id: UInt16 = 0x1234,
                             recursionDesired: Bool = true, edns: DNSEDNS? = nil) -> DNSMessage {
        DNSMessage(id: id, recursionDesired: recursionDesired,
                   questions: [DNSQuestion(name: name, type: type)], edns: edns)
    }
}

/// The header's flags word without the response code, as bit positions (RFC 1035 §4.1.1).
enum DNSHeaderBits {
    static let response: UInt16 = 0x8000
    static let opcodeShift: UInt16 = 11
    static let authoritative: UInt16 = 0x0400
    static let truncated: UInt16 = 0x0200
    static let recursionDesired: UInt16 = 0x0100
    static let recursionAvailable: UInt16 = 0x0080
    static let authenticData: UInt16 = 0x0020
    static let checkingDisabled: UInt16 = 0x0010
    static let headerLength = 12
}

public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass

    public init(name: DNSName, type: DNSRecordType, recordClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}

/// A resource record (RFC 1035 §4.1.3).
public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var recordClass: DNSClass
    /// Seconds; values with the top bit set are treated as 0 by resolvers (RFC 2181 §8).
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    public var type: DNSRecordType { data.type }
}

/// The data of the record types fleet serves or needs to read; anything else stays raw bytes.
public enum DNSRecordData: Hashable, Sendable {
    case a(IPv4Bytes)
    case aaaa(IPv6Bytes)
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case soa(DNSSOA)
    /// One record holds one or more character-strings of at most 255 bytes each.
    case txt([[UInt8]])
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    case unknown(type: DNSRecordType, bytes: [UInt8])

    /// Byte strings go to the hasher whole: the synthesised hash fed a TXT record byte by byte,
    /// and the zone builder hashes every record of a service on each change to one instance.
    /// Equality stays the synthesised one (names compare case-insensitively, as they hash).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(type.rawValue)  // equal data have equal types; unequal ones may share one
        switch self {
        case let .a(address): hasher.combine(address)
        case let .aaaa(address): address.array.withUnsafeBytes { hasher.combine(bytes: $0) }
        case let .ns(name), let .cname(name), let .ptr(name): hasher.combine(name)
        case let .soa(soa): hasher.combine(soa)
        case let .txt(strings):
            hasher.combine(strings.count)
            for string in strings {
                hasher.combine(string.count)
                string.withUnsafeBytes { hasher.combine(bytes: $0) }
            }
        case let .srv(priority, weight, port, target):
            hasher.combine(priority)
            hasher.combine(weight)
            hasher.combine(port)
            hasher.combine(target)
        case let .unknown(_, bytes):
            hasher.combine(bytes.count)
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    public var type: DNSRecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .soa: .soa
        case .txt: .txt
        case .srv: .srv
        case let .unknown(type, _): type
        }
    }
}

public struct IPv4Bytes: Hashable, Sendable, CustomStringConvertible {
    public var bytes: (UInt8, UInt8, UInt8, UInt8)

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) { bytes = (a, b, c, d) }

    public var array: [UInt8] { [bytes.0, bytes.1, bytes.2, bytes.3] }
    public var description: String { "\(bytes.0).\(bytes.1).\(bytes.2).\(bytes.3)" }

    /// The four bytes as one number, in network order: compared and hashed without an array.
    var packed: UInt32 {
        UInt32(bytes.0) << 24 | UInt32(bytes.1) << 16 | UInt32(bytes.2) << 8 | UInt32(bytes.3)
    }

    public static func == (l: IPv4Bytes, r: IPv4Bytes) -> Bool { l.packed == r.packed }
    public func hash(into h: inout Hasher) { h.combine(packed) }
}

public struct IPv6Bytes: Hashable, Sendable, CustomStringConvertible {
    /// Sixteen bytes in network order.
    public var array: [UInt8]

    public init?(_ array: [UInt8]) {
        guard array.count == 16 else { return nil }
        self.array = array
    }

    /// Full form, eight groups without zero compression: unambiguous, and tests compare numbers.
    public var description: String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(array[$0]) << 8 | UInt16(array[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}

public struct DNSSOA: Hashable, Sendable {
    public var primaryServer: DNSName
    public var responsibleMailbox: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// The negative-caching TTL (RFC 2308).
    public var minimum: UInt32

    public init(primaryServer: DNSName, responsibleMailbox: DNSName, serial: UInt32, refresh: UInt32,
                retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.primaryServer = primaryServer
        self.responsibleMailbox = responsibleMailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// The EDNS(0) OPT pseudo-record's fields (RFC 6891 §6.1.3).
public struct DNSEDNS: Hashable, Sendable {
    /// The largest UDP payload the sender can receive.
    public var udpPayloadSize: UInt16
    /// The upper eight bits of the twelve-bit response code.
    public var extendedRCode: UInt8
    public var version: UInt8
    /// DNSSEC OK: copied into responses as RFC 3225 asks, though fleet signs nothing.
    public var dnssecOK: Bool
    public var options: [DNSEDNSOption]

    public init(udpPayloadSize: UInt16 = 1232, extendedRCode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false,
                options: [DNSEDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRCode = extendedRCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }
}

public struct DNSEDNSOption: Hashable, Sendable {
    public var code: UInt16
    public var data: [UInt8]

    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// Record types as numbers: a struct, not an enum, so any type a packet names can be held.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = Self(rawValue: 1)
    public static let ns = Self(rawValue: 2)
    public static let cname = Self(rawValue: 5)
    public static let soa = Self(rawValue: 6)
    public static let ptr = Self(rawValue: 12)
    public static let hinfo = Self(rawValue: 13)
    public static let mx = Self(rawValue: 15)
    public static let txt = Self(rawValue: 16)
    public static let aaaa = Self(rawValue: 28)
    public static let srv = Self(rawValue: 33)
    public static let opt = Self(rawValue: 41)
    public static let ixfr = Self(rawValue: 251)
    public static let axfr = Self(rawValue: 252)
    public static let any = Self(rawValue: 255)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .ptr: "PTR"
        case .hinfo: "HINFO"
        case .mx: "MX"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        case .srv: "SRV"
        case .opt: "OPT"
        case .ixfr: "IXFR"
        case .axfr: "AXFR"
        case .any: "ANY"
        default: "TYPE\(rawValue)"
        }
    }
}

public struct DNSClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let internet = Self(rawValue: 1)
    public static let chaos = Self(rawValue: 3)
    public static let any = Self(rawValue: 255)
}

public struct DNSOpcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let query = Self(rawValue: 0)
    public static let status = Self(rawValue: 2)
    public static let notify = Self(rawValue: 4)
    public static let update = Self(rawValue: 5)
}

/// Twelve-bit response codes (RFC 6895 §2.3); values above 15 need an OPT record.
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let noError = Self(rawValue: 0)
    public static let formatError = Self(rawValue: 1)
    public static let serverFailure = Self(rawValue: 2)
    public static let nameError = Self(rawValue: 3)
    public static let notImplemented = Self(rawValue: 4)
    public static let refused = Self(rawValue: 5)
    public static let badVersion = Self(rawValue: 16)

    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formatError: "FORMERR"
        case .serverFailure: "SERVFAIL"
        case .nameError: "NXDOMAIN"
        case .notImplemented: "NOTIMP"
        case .refused: "REFUSED"
        case .badVersion: "BADVERS"
        default: "RCODE\(rawValue)"
        }
    }
}
