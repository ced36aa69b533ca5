import FleetAPIClient
import Synchronization

/// A few counters of the API, served at `GET /metrics` in Prometheus' text format.
///
/// Dimensions are the resource (the route, never the unit or machine named in the path), the
/// method and the status code, so the number of series stays small and fixed.
public final class APIMetrics: Sendable {
    struct Key: Hashable, Comparable {
        var resource: String
        var method: String
        var code: Int

        static func < (a: Key, b: Key) -> Bool { (a.resource, a.method, a.code) < (b.resource, b.method, b.code) }
    }

    private let requests = Mutex<[Key: Int]>([:])
    /// Requests refused for the client's role (``RoleMiddleware``), by role.
    private let denied = Mutex<[String: Int]>([:])
    /// More exposition text appended to every scrape (fleetd: the engine's and registry's
    /// metrics from its Prometheus registry).
    let additional: (@Sendable () -> String)?

    public init(additional: (@Sendable () -> String)? = nil) {
        self.additional = additional
    }

    func count(resource: String, method: String, code: Int) {
        requests.withLock { $0[Key(resource: resource, method: method, code: code), default: 0] += 1 }
    }

    func countDenied(role: String) {
        denied.withLock { $0[role, default: 0] += 1 }
    }

    /// The exposition text: requests by resource, method and code; readiness; build version.
    func exposition(ready: Bool, machines: Int?) -> String {
        let counts = requests.withLock { $0 }.sorted { $0.key < $1.key }
        var out = """
        # HELP fleet_api_requests_total API requests answered, by resource, method and status code.
        # TYPE fleet_api_requests_total counter

        """
        for (key, value) in counts {
            out += "fleet_api_requests_total{resource=\"\(key.resource)\",method=\"\(key.method)\",code=\"\(key.code)\"} \(value)\n"
        }
        let refusals = denied.withLock { $0 }.sorted { $0.key < $1.key }
        if !refusals.isEmpty {
            out += """
            # HELP fleet_api_denied_total Requests refused on a TLS listener because the client's role may not make them.
            # TYPE fleet_api_denied_total counter

            """
            for (role, value) in refusals { out += "fleet_api_denied_total{role=\"\(role)\"} \(value)\n" }
        }
        out += """
        # HELP fleet_api_ready 1 once this machine is registered and the API answers requests.
        # TYPE fleet_api_ready gauge
        fleet_api_ready \(ready ? 1 : 0)

        """
        if let machines {
            out += """
            # HELP fleet_registry_machines Live machines in the registry.
            # TYPE fleet_registry_machines gauge
            fleet_registry_machines \(machines)

            """
        }
        out += """
        # HELP fleet_build_info The fleetd version serving this API.
        # TYPE fleet_build_info gauge
        fleet_build_info{version="\(FleetVersion.current)"} 1

        """
        if let additional { out += additional() }
        return out
    }
}
