import FleetIdentity
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Refuses, with 403, what the client's role may not do (``RolePolicy``), before any route
/// runs; counted in ``APIMetrics`` by role. Runs after ``PeerIdentityMiddleware`` on TLS
/// listeners; a request without a peer (the unix socket) is not checked.
///
/// The refusal has the shape its client expects: etcd's v2 error (errorCode 110, "The request
/// requires user authentication") on the keys API, fleet's `{"error":{...}}` elsewhere.
public struct RoleMiddleware: RouterMiddleware {
    public typealias Context = FleetRequestContext

    let policy: RolePolicy
    let metrics: APIMetrics
    let logger: Logger

    public init(policy: RolePolicy, metrics: APIMetrics, logger: Logger) {
        self.policy = policy
        self.metrics = metrics
        self.logger = logger
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let peer = context.peer else { return try await next(request, context) }
        let path = request.uri.path
        guard let reason = policy.denial(for: peer, method: request.method, path: path,
                                         forwarded: request.headers[APIRoutes.forwardedHeader] != nil)
        else { return try await next(request, context) }
        metrics.countDenied(role: peer.role.rawValue)
        logger.notice("request refused for the client's role", metadata: [
            "peer.role": "\(peer.role)", "peer.machine_id": "\(peer.machineID ?? "")",
            "http.method": "\(request.method)", "http.path": "\(path)", "reason": "\(reason)",
        ])
        guard path == "/v2/keys" || path.hasPrefix("/v2/keys/") else {
            return APIError(.forbidden, "\(peer.role) may not do this: \(reason)").response()
        }
        let body = #"{"errorCode":110,"message":"The request requires user authentication","cause":"#
            + Self.jsonString("\(peer.role) may not do this: \(reason)") + #","index":0}"#
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .forbidden, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func jsonString(_ text: String) -> String {
        (try? String(decoding: JSONEncoder().encode(text), as: UTF8.self)) ?? "\"\""
    }
}
