import FleetUnit

/// What a unit file's `[X-Discovery]` section asks for (systemd ignores `X-` sections):
///
/// ```
/// [X-Discovery]
/// Name=web                     # service name; default: the unit's prefix (web@3 -> web)
/// Port=8080                    # several allowed: 8080, 53/udp, http:8080/tcp
/// Tags=primary v2              # space- or comma-separated; several lines accumulate
/// TXT=version=1.2              # metadata; several lines accumulate
/// TTL=5                        # seconds DNS answers may be cached (0...86400)
/// Check=tcp                    # or http://127.0.0.1:8080/health, or systemd (default)
/// CheckInterval=2              # seconds between checks (0.1...3600)
/// HealthyAfter=1               # passes in a row before an instance counts as healthy (1...1000)
/// UnhealthyAfter=2             # failures in a row before it leaves answers (1...1000)
/// Register=no                  # keep this unit out of discovery
/// ```
public struct DiscoverySpec: Hashable, Sendable {
    public enum Check: Hashable, Sendable {
        /// Healthy while systemd says active.
        case systemd
        /// Healthy while a TCP connect to the first port succeeds.
        case tcp
        /// Healthy while a GET of the URL answers 2xx/3xx.
        case http(String)
    }

    public var name: String?
    public var ports: [DiscoveryRecord.Port]
    public var tags: [String]
    public var metadata: [String: String]
    public var answerTTL: UInt32
    public var check: Check
    public var checkInterval: Double
    public var healthyAfter: Int
    public var unhealthyAfter: Int
    public var register: Bool
    /// Values that could not be understood, for a warning (never fatal: systemd ignores them too).
    public var problems: [String]
    /// The numbers among ``problems`` (ports, TTL, interval, thresholds) that are not numbers or
    /// lie outside their bounds. The fleet API refuses a unit with any (fleetctl shows the
    /// message); a unit stored before that check still runs, with the value clamped or defaulted.
    public var refusals: [String]

    /// Seconds between health checks: below 0.1 s a check would busy-loop, above an hour a
    /// failure would go unnoticed for longer than any TTL in fleet.
    public static let checkIntervalBounds: ClosedRange<Double> = 0.1...3600
    /// Passes or failures in a row before the health changes.
    public static let thresholdBounds: ClosedRange<Int> = 1...1000
    /// Seconds a DNS answer may be cached (a day, as far as a record of a running unit is useful).
    public static let answerTTLBounds: ClosedRange<UInt32> = 0...86400

    public init(file: UnitFile) {
        let values = { (key: String) in file.values(section: "X-Discovery", name: key) }
        name = values("Name").last.flatMap { $0.isEmpty ? nil : $0 }
        var problems: [String] = []
        var refusals: [String] = []
        ports = values("Port").flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," }) }.compactMap { text in
            let port = Self.port(String(text))
            if port == nil { refusals.append("Port=\(text): expected PORT, PORT/udp or NAME:PORT/tcp, PORT in 1...65535") }
            return port
        }
        tags = values("Tags").flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init) }
        var metadata: [String: String] = [:]
        for entry in values("TXT") {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2, !parts[0].isEmpty { metadata[parts[0]] = parts[1] } else { problems.append("TXT=\(entry): expected KEY=VALUE") }
        }
        self.metadata = metadata
        var numbers = DiscoveryNumbers(file: file)
        answerTTL = numbers.whole("TTL", Self.answerTTLBounds, default: 5, unit: "seconds")
        switch values("Check").last?.lowercased() {
        case nil, "", "systemd": check = .systemd
        case "tcp": check = .tcp
        case let url? where url.hasPrefix("http://"): check = .http(values("Check").last!)
        case let other?:
            problems.append("Check=\(other): expected tcp, systemd or an http:// URL")
            check = .systemd
        }
        checkInterval = numbers.seconds("CheckInterval", Self.checkIntervalBounds, default: 2)
        healthyAfter = numbers.whole("HealthyAfter", Self.thresholdBounds, default: 1, unit: "checks")
        unhealthyAfter = numbers.whole("UnhealthyAfter", Self.thresholdBounds, default: 2, unit: "checks")
        register = !["no", "false", "0", "off"].contains(values("Register").last?.lowercased() ?? "")
        refusals += numbers.refusals
        self.refusals = refusals
        self.problems = refusals + problems
    }

    /// The pause between health checks, whatever ``checkInterval`` was set to (it is a public
    /// field: a NaN or infinite value must not trap the conversion to a duration).
    public var checkPause: Duration {
        let seconds = checkInterval.isNaN ? 2 : min(max(checkInterval, Self.checkIntervalBounds.lowerBound),
                                                     Self.checkIntervalBounds.upperBound)
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// `8080`, `8080/udp`, `http:8080`, `http:8080/tcp`.
    public static func port(_ text: String) -> DiscoveryRecord.Port? {
        var rest = Substring(text)
        var name: String?
        if let colon = rest.firstIndex(of: ":") {
            name = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        var proto = "tcp"
        if let slash = rest.firstIndex(of: "/") {
            proto = rest[rest.index(after: slash)...].lowercased()
            rest = rest[..<slash]
        }
        guard let number = UInt16(rest), number > 0, proto == "tcp" || proto == "udp" else { return nil }
        return DiscoveryRecord.Port(port: number, proto: proto, name: name)
    }
}
