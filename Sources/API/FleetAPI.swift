import FleetRegistry
import FleetStore
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// fleet's HTTP API v1 over the registry, at `/fleet/v1/...` (and the legacy `/v1-alpha/...`),
/// plus `GET /metrics`. docs/api/openapi.yaml describes every route, entity and error.
public struct FleetAPI: Sendable {
    public struct Configuration: Sendable {
        /// Page size of the list resources (fleet's `token_limit`); page tokens must carry it.
        public var tokenLimit: Int

        public init(tokenLimit: Int = 100) {
            self.tokenLimit = tokenLimit
        }
    }

    /// The `Server` header of every response: `fleetd/<version>`.
    public static let serverName = "fleetd/\(FleetVersion.current)"

    let registry: Registry
    let configuration: Configuration
    let readiness: APIReadiness
    let metrics: APIMetrics

    /// - Parameters:
    ///   - readiness: until it is ready every API request is answered 503; fleetd marks it
    ///     ready once the agent has registered the machine. Tests pass a ready one.
    ///   - metrics: counters shared by every listener of one fleetd.
    public init(registry: Registry, configuration: Configuration = .init(),
                readiness: APIReadiness = APIReadiness(ready: true), metrics: APIMetrics = APIMetrics()) {
        precondition((1...Int(UInt16.max)).contains(configuration.tokenLimit), "token limit must fit a uint16")
        self.registry = registry
        self.configuration = configuration
        self.readiness = readiness
        self.metrics = metrics
    }

    static let otherMethods: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options, .trace]

    /// Adds the API to `router`, with its middleware in front of everything added after it.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.add(middleware: FleetAPIMiddleware<Context>(readiness: readiness, metrics: metrics))
        for base in ["/fleet/v1", "/v1-alpha"] {
            resource(router, "\(base)/units", "only GET supported against this resource", [
                .get: { request, _ in try await listUnits(request) },
            ])
            resource(router, "\(base)/units/:name", "only GET, PUT and DELETE supported against this resource", [
                .get: { _, context in try json(await getUnit(try name(context))) },
                .put: { request, context in try await putUnit(try name(context), request) },
                .delete: { _, context in try await deleteUnit(try name(context)) },
            ])
            resource(router, "\(base)/state", "only GET supported against this resource", [
                .get: { request, _ in try await listStates(request) },
            ])
            resource(router, "\(base)/state/:name", "only GET supported against this resource", [
                .get: { _, context in try json(await getState(try name(context))) },
            ])
            resource(router, "\(base)/machines", "only GET and PATCH supported against this resource", [
                .get: { request, _ in try await listMachines(request) },
                .patch: { request, _ in try await patchMachines(request) },
            ])
            resource(router, "\(base)/discovery", "only HTTP GET supported against this resource", status: .badRequest, [
                .get: { request, _ in discovery(request) },
            ])
            resource(router, base, "", [:])
        }
        resource(router, "/", "", [:])
        router.get("/metrics") { _, _ in try await metricsResponse() }
    }

    typealias Handler<Context> = @Sendable (Request, Context) async throws -> Response

    /// Routes `handlers` at `path` and answers every other method with `status` and `message`.
    func resource<Context: RequestContext>(_ router: Router<Context>, _ path: String, _ message: String,
                                           status: HTTPResponse.Status = .methodNotAllowed,
                                           _ handlers: [HTTPRequest.Method: Handler<Context>]) {
        let allow = Self.otherMethods.filter { handlers[$0] != nil }.map(\.rawValue).joined(separator: ", ")
        for method in Self.otherMethods {
            if let handler = handlers[method] {
                router.on(RouterPath(path), method: method, use: handler)
            } else {
                router.on(RouterPath(path), method: method) { _, _ -> Response in
                    var response = APIError(status, message).response()
                    if status == .methodNotAllowed, !allow.isEmpty { response.headers[.allow] = allow }
                    return response
                }
            }
        }
    }

    func name(_ context: some RequestContext) throws -> String {
        let raw = context.parameters.get("name") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// The page the request's `nextPageToken` asks for; checked before the registry is read.
    func pageToken(_ request: Request) throws(APIError) -> PageToken {
        try PageToken.from(request.uri.queryParameters.getAll("nextPageToken").map { String($0) },
                           limit: configuration.tokenLimit)
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
