import AsyncHTTPClient
import FleetAPIClient
import FleetHTTPServer
import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// fleet's HTTP API v1 over the registry, at `/fleet/v1/...` (and the legacy `/v1-alpha/...`),
/// plus `GET /metrics`. docs/api/openapi.yaml describes every route, entity and error.
public struct APIRoutes: Sendable {
    public struct Configuration: Sendable {
        /// Page size of the list resources (fleet's `token_limit`); page tokens must carry it.
        public var tokenLimit: Int
        /// The machine this fleetd runs units on: its units' status and journal are answered
        /// here, everyone else's by their own machine's fleetd.
        public var localMachine: MachineID?
        /// The client that passes status and journal requests on to other fleetds: with TLS,
        /// it presents this machine's certificate and trusts only the cluster CA.
        public var peerHTTPClient: HTTPClient
        /// Where `GET /fleet/v1/store/backup` takes its copy (only the embedded store's fleetd can).
        public var storeBackup: StoreBackupSource

        public init(tokenLimit: Int = 100, localMachine: MachineID? = nil, peerHTTPClient: HTTPClient = .shared,
                    storeBackup: StoreBackupSource = .unavailable("this fleetd keeps no store to back up")) {
            self.tokenLimit = tokenLimit
            self.localMachine = localMachine
            self.peerHTTPClient = peerHTTPClient
            self.storeBackup = storeBackup
        }
    }

    /// The `Server` header of every response: `fleetd/<version>`.
    public static let serverName = "fleetd/\(FleetVersion.current)"

    let registry: Registry
    let configuration: Configuration
    let readiness: APIReadiness
    let metrics: APIMetrics
    let inspector: (any UnitInspector)?
    /// Unit contents by hash (content-addressed, so never stale), shared by every copy of the routes.
    let unitFiles = UnitFileCache()

    /// - Parameters:
    ///   - readiness: until it is ready every API request is answered 503; fleetd marks it
    ///     ready once the agent has registered the machine. Tests pass a ready one.
    ///   - metrics: counters shared by every listener of one fleetd.
    ///   - inspector: answers status and journal of this machine's units (nil: not served here).
    public init(registry: Registry, configuration: Configuration = .init(),
                readiness: APIReadiness = APIReadiness(ready: true), metrics: APIMetrics = APIMetrics(),
                inspector: (any UnitInspector)? = nil) {
        precondition((1...Int(UInt16.max)).contains(configuration.tokenLimit), "token limit must fit a uint16")
        self.registry = registry
        self.configuration = configuration
        self.readiness = readiness
        self.metrics = metrics
        self.inspector = inspector
    }

    /// Adds the API to `router`, with its middleware in front of everything added after it.
    ///
    /// Only the supported methods are routed; the middleware answers any other method on a
    /// resource (even one HTTP does not define yet, like QUERY) with 405 (see ``Resource``).
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.add(middleware: FleetAPIMiddleware<Context>(readiness: readiness, metrics: metrics))
        for base in ["/fleet/v1", "/v1-alpha"] {
            router.get("\(base)/units") { request, _ in try await listUnits(request) }
            router.get("\(base)/units/:name") { _, context in try json(await getUnit(try name(context))) }
            router.put("\(base)/units/:name") { request, context in try await putUnit(try name(context), request) }
            router.delete("\(base)/units/:name") { _, context in try await deleteUnit(try name(context)) }
            router.get("\(base)/units/:name/status") { request, context in try await unitStatus(try name(context), request) }
            router.get("\(base)/units/:name/journal") { request, context in
                try await unitJournal(try name(context), request, context: context)
            }
            router.get("\(base)/state") { request, _ in try await listStates(request) }
            router.get("\(base)/state/:name") { _, context in try json(await getState(try name(context))) }
            router.get("\(base)/machines") { request, _ in try await listMachines(request) }
            router.patch("\(base)/machines") { request, _ in try await patchMachines(request) }
            router.get("\(base)/discovery") { request, _ in discovery(request) }
        }
        // Ours, not fleet's: only under /fleet/v1, where fleet has no "store" resource.
        router.get("/fleet/v1/store/backup") { _, _ in try await storeBackup() }
        router.post("/fleet/v1/batch/units") { request, context in try await putUnitBatch(request, logger: context.logger) }
        router.get("/metrics") { _, _ in try await metricsResponse() }
    }

    /// fleet's resources, for the 405 answers and as the metrics' `resource` dimension.
    enum Resource: String, CaseIterable {
        case root = "/", units, unit = "units/:name", unitStatus = "units/:name/status", unitJournal = "units/:name/journal"
        case states = "state", state = "state/:name", machines, discovery, metrics
        case storeBackup = "store/backup", unitBatch = "batch/units"

        /// The resource `path` names under `/fleet/v1` or `/v1-alpha` (or `/`, `/metrics`), if any.
        init?(path: String) {
            let parts = path.split(separator: "/")
            if parts.isEmpty { self = .root; return }
            if parts == ["metrics"] { self = .metrics; return }
            if parts == ["fleet", "v1", "store", "backup"] { self = .storeBackup; return }
            if parts == ["fleet", "v1", "batch", "units"] { self = .unitBatch; return }
            let rest: ArraySlice<Substring>
            if parts.starts(with: ["fleet", "v1"]) {
                rest = parts.dropFirst(2)
            } else if parts.first == "v1-alpha" {
                rest = parts.dropFirst()
            } else {
                return nil
            }
            switch (rest.first, rest.count) {
            case (nil, _): self = .root
            case ("units", 1): self = .units
            case ("units", 2): self = .unit
            case ("units", 3) where rest.last == "status": self = .unitStatus
            case ("units", 3) where rest.last == "journal": self = .unitJournal
            case ("state", 1): self = .states
            case ("state", 2): self = .state
            case ("machines", 1): self = .machines
            case ("discovery", 1): self = .discovery
            default: return nil
            }
        }

        /// The methods it serves (empty for `/`, `/fleet/v1` and `/v1-alpha`).
        var allowed: String {
            switch self {
            case .root: ""
            case .unit: "GET, PUT, DELETE"
            case .machines: "GET, PATCH"
            case .unitBatch: "POST"
            default: "GET"
            }
        }

        /// fleet's answer to any other method (empty for the bare prefixes, as in fleet).
        /// Unlike fleet, the discovery document answers 405 too, not 400.
        var methodNotAllowed: APIError {
            switch self {
            case .root: APIError(.methodNotAllowed, "")
            case .unit: APIError(.methodNotAllowed, "only GET, PUT and DELETE supported against this resource")
            case .machines: APIError(.methodNotAllowed, "only GET and PATCH supported against this resource")
            case .discovery: APIError(.methodNotAllowed, "only HTTP GET supported against this resource")
            case .unitBatch: APIError(.methodNotAllowed, "only POST supported against this resource")
            default: APIError(.methodNotAllowed, "only GET supported against this resource")
            }
        }
    }

    func name(_ context: some RequestContext) throws -> String {
        let raw = context.parameters.get("name") ?? ""
        return PercentDecoding.decode(raw) ?? raw
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A JSON body already written (``JSONText``).
    func jsonBody(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The page the request's `nextPageToken` asks for, of the request's `pageSize` (ours) or
    /// the server's page size; checked before the registry is read.
    func pageToken(_ request: Request) throws(APIError) -> PageToken {
        let query = request.uri.queryParameters
        let size = try PageToken.pageSize(query.getAll("pageSize").map { String($0) }) ?? configuration.tokenLimit
        return try PageToken.from(query.getAll("nextPageToken").map { String($0) }, limit: size)
    }

    func metricsResponse() async throws -> Response {
        var machines: Int?
        if readiness.isReady { machines = try? await registry.machines().count }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(
            string: metrics.exposition(ready: readiness.isReady, machines: machines))))
    }
}
