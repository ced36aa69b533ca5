import Foundation
import FleetStore

/// One running instance of a service, as the registrar stores it under
/// `/discovery/<service>/<instance>` (with a TTL the registrar keeps refreshing while the unit
/// runs). DNS, the HTTP watch, mDNS and `fleetctl discover` all read this one shape.
public struct DiscoveryRecord: Codable, Sendable, Hashable {
    public struct Port: Codable, Sendable, Hashable {
        public var port: UInt16
        /// `tcp` or `udp`.
        public var proto: String
        /// Optional name (the SRV service label is still the service's own name).
        public var name: String?

        public init(port: UInt16, proto: String = "tcp", name: String? = nil) {
            self.port = port
            self.proto = proto
            self.name = name
        }
    }

    public var service: String
    public var instance: String
    /// The unit that runs it (`web@1.service`), or nil for an announcement made by hand.
    public var unit: String?
    public var machineID: String
    /// The machine's name in DNS (`<machine>.machine.<zone>`): its short machine ID by default.
    public var machineName: String
    /// IPv4 or IPv6 address clients connect to.
    public var address: String
    public var ports: [Port]
    public var tags: [String]
    /// TXT metadata.
    public var metadata: [String: String]
    /// Unhealthy instances stay registered but leave DNS answers.
    public var healthy: Bool
    /// Seconds DNS answers for this instance may be cached.
    public var answerTTL: UInt32
    /// When the instance became active.
    public var since: Date

    public init(service: String, instance: String, unit: String?, machineID: String, machineName: String,
                address: String, ports: [Port] = [], tags: [String] = [], metadata: [String: String] = [:],
                healthy: Bool = true, answerTTL: UInt32 = 5, since: Date = Date()) {
        self.service = service
        self.instance = instance
        self.unit = unit
        self.machineID = machineID
        self.machineName = machineName
        self.address = address
        self.ports = ports
        self.tags = tags
        self.metadata = metadata
        self.healthy = healthy
        self.answerTTL = answerTTL
        self.since = since
    }

    public static func decode(_ json: String) -> DiscoveryRecord? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = sinceDecoding
        return try? decoder.decode(DiscoveryRecord.self, from: Data(json.utf8))
    }

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = Self.sinceEncoding
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// `since` as RFC 3339 in whole seconds, the bytes Foundation's `.iso8601` strategy writes,
    /// but by hand: that strategy builds a calendar in the current time zone, which maps ICU's
    /// zone code and data (about 2 MB resident) into every fleetd that reads a record.
    public static let sinceDecoding = JSONDecoder.DateDecodingStrategy.custom { decoder in
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = RFC3339Time.parse(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time")
        }
        return date
    }

    public static let sinceEncoding = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(RFC3339Time.formatSeconds(date))
    }
}
