import FleetUnit

/// What a unit file's `[X-Discovery]` section asks for (systemd ignores `X-` sections):
///
/// ```
/// [X-Discovery]
/// Name=web                     # service name; default: the unit's prefix (web@3 -> web)
/// Port=8080                    # several allowed: 8080, 53/udp, http:8080/tcp
/// Tags=primary v2              # space- or comma-separated; several lines accumulate
/// TXT=version=1.2              # metadata; several lines accumulate
/// TTL=5                        # seconds DNS answers may be cached
/// Check=tcp                    # or http://127.0.0.1:8080/health, or systemd (default)
/// CheckInterval=2              # seconds between checks
/// HealthyAfter=1               # passes in a row before an instance counts as healthy
/// UnhealthyAfter=2             # failures in a row before it leaves answers
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

    public init(file: UnitFile) {
        let values = { (key: String) in file.values(section: "X-Discovery", name: key) }
        name = values("Name").last.flatMap { $0.isEmpty ? nil : $0 }
        var problems: [String] = []
        ports = values("Port").flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," }) }.compactMap { text in
            let port = Self.port(String(text))
            if port == nil { problems.append("Port=\(text): expected PORT, PORT/udp or NAME:PORT/tcp") }
            return port
        }
        tags = values("Tags").flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init) }
        var metadata: [String: String] = [:]
        for entry in values("TXT") {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2, !parts[0].isEmpty { metadata[parts[0]] = parts[1] } else { problems.append("TXT=\(entry): expected KEY=VALUE") }
        }
        self.metadata = metadata
        answerTTL = values("TTL").last.flatMap(UInt32.init) ?? 5
        switch values("Check").last?.lowercased() {
        case nil, "", "systemd": check = .systemd
        case "tcp": check = .tcp
        case let url? where url.hasPrefix("http://"): check = .http(values("Check").last!)
        case let other?:
            problems.append("Check=\(other): expected tcp, systemd or an http:// URL")
            check = .systemd
        }
        checkInterval = values("CheckInterval").last.flatMap(Double.init).map { max($0, 0.1) } ?? 2
        healthyAfter = values("HealthyAfter").last.flatMap(Int.init).map { max($0, 1) } ?? 1
        unhealthyAfter = values("UnhealthyAfter").last.flatMap(Int.init).map { max($0, 1) } ?? 2
        register = !["no", "false", "0", "off"].contains(values("Register").last?.lowercased() ?? "")
        self.problems = problems
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
