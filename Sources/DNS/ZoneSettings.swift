import Foundation

/// What the zone looks like apart from the discovery records: its name, its SOA and NS, and TTLs.
public struct ZoneSettings: Sendable {
    /// The zone served authoritatively; `fleet.` unless configured.
    public var apex: DNSName
    /// The NS target at the apex (`ns.<zone>` unless configured).
    public var nameserver: DNSName
    /// Addresses for ``nameserver``; when given, the zone answers its A/AAAA (and glue for NS).
    public var nameserverAddresses: [String]
    /// The SOA RNAME (`hostmaster.<zone>` unless configured).
    public var hostmaster: DNSName
    /// TTL of NXDOMAIN and NODATA answers (SOA MINIMUM and the SOA's own TTL, RFC 2308 §5). Short,
    /// because a name that is missing now may be registered a moment later.
    public var negativeTTL: UInt32
    /// TTL of the apex's SOA and NS records and of the nameserver's addresses.
    public var apexTTL: UInt32
    /// The SOA serial. No transfers are offered, so it only has to be stable while the server runs.
    public var serial: UInt32
    /// How many shuffled orders are prepared per A, AAAA and SRV answer; queries cycle through them.
    public var shuffleVariants: Int

    public init(apex: DNSName = "fleet.", nameserver: DNSName? = nil, nameserverAddresses: [String] = [],
                hostmaster: DNSName? = nil, negativeTTL: UInt32 = 5, apexTTL: UInt32 = 60,
                serial: UInt32 = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)),
                shuffleVariants: Int = 8) {
        let apex = apex.lowercased()
        self.apex = apex
        self.nameserver = (nameserver ?? apex.prepending("ns") ?? apex).lowercased()
        self.nameserverAddresses = nameserverAddresses
        self.hostmaster = (hostmaster ?? apex.prepending("hostmaster") ?? apex).lowercased()
        self.negativeTTL = negativeTTL
        self.apexTTL = apexTTL
        self.serial = serial
        self.shuffleVariants = max(1, shuffleVariants)
    }

    var soa: DNSSOA {
        DNSSOA(primaryServer: nameserver, responsibleMailbox: hostmaster, serial: serial,
               refresh: 3600, retry: 600, expire: 86400, minimum: negativeTTL)
    }

    var soaRecord: DNSRecord { DNSRecord(name: apex, ttl: negativeTTL, data: .soa(soa)) }
}
