import FleetIdentity
import FleetStore
import FleetStoreHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Refuses, with 403, what the client's role may not do (``RolePolicy``), before any route
/// runs; counted in ``APIMetrics`` by role. Runs after ``PeerIdentityMiddleware`` on TLS
/// listeners; a request without a peer (the unix socket) is not checked.
///
/// A machine's write of an engine key or the lease is decided against the lease as the store
/// holds it at that moment (`engineLeader`); a lease that cannot be read refuses the write.
///
/// The refusal has the shape its client expects: etcd's v2 error (errorCode 110, "The request
/// requires user authentication") on the keys API, fleet's `{"error":{...}}` elsewhere.
public struct RoleMiddleware: RouterMiddleware {
    public typealias Context = FleetRequestContext

    /// Reads the machine ID the engine lease holds now (nil when nobody leads).
    public typealias EngineLeaderLookup = @Sendable () async throws -> String?

    let policy: RolePolicy
    let engineLeader: EngineLeaderLookup
    let metrics: APIMetrics
    let logger: Logger

    public init(policy: RolePolicy, engineLeader: @escaping EngineLeaderLookup, metrics: APIMetrics, logger: Logger) {
        self.policy = policy
        self.engineLeader = engineLeader
        self.metrics = metrics
        self.logger = logger
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let peer = context.peer else { return try await next(request, context) }
        var request = request
        var context = context
        let path = request.uri.path
        let reason: String?
        if path == KeysAPI.batchPath && request.method == .post {
            // A batch is judged by its writes, so its body is read here (and kept for the route).
            let writes: [KeysBatchWrite]
            do {
                writes = try KeysBatchWrite.parse(try await request.collectBody(upTo: KeysAPI.defaultMaxBodyBytes))
            } catch let error as StoreError {
                return KeysAPI.errorResponse(error)  // what the route would answer
            } catch {
                return KeysAPI.errorResponse(StoreError(.bodyTooLarge, "request body is larger than \(KeysAPI.defaultMaxBodyBytes) bytes"))
            }
            reason = await denial(for: peer, batch: writes)
            context.parsedBatch = writes
        } else {
            reason = await denial(for: peer, request)
        }
        guard let reason else { return try await next(request, context) }
        metrics.countDenied(role: peer.role.rawValue)
        logger.notice("request refused for the client's role", metadata: [
            "peer.role": "\(peer.role)", "peer.machine_id": "\(peer.machineID ?? "")",
            "http.method": "\(request.method)", "http.path": "\(path)", "reason": "\(reason)",
        ])
        guard RolePolicy.isKeysPath(path) || path == KeysAPI.batchPath else {
            return APIError(.forbidden, "\(peer.role) may not do this: \(reason)").response()
        }
        let body = #"{"errorCode":110,"message":"The request requires user authentication","cause":"#
            + Self.jsonString("\(peer.role) may not do this: \(reason)") + #","index":0}"#
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .forbidden, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// The policy's answer for a batch, with the lease read first when it depends on it.
    func denial(for peer: PeerIdentity, batch: [KeysBatchWrite]) async -> String? {
        var leader: String?
        if policy.dependsOnEngineLeader(peer, batch: batch) {
            do {
                leader = try await engineLeader()
            } catch {
                return "the engine lease could not be read to check this batch (\(error))"
            }
        }
        return policy.denial(for: peer, batch: batch, engineLeader: leader)
    }

    /// The policy's answer, with the lease read first when the answer depends on it.
    func denial(for peer: PeerIdentity, _ request: Request) async -> String? {
        let path = request.uri.path
        var leader: String?
        if policy.dependsOnEngineLeader(peer, method: request.method, path: path) {
            do {
                leader = try await engineLeader()
            } catch {
                return "the engine lease could not be read to check this write (\(error))"
            }
        }
        return policy.denial(for: peer, method: request.method, path: path, query: request.uri.query,
                             forwarded: request.headers[APIRoutes.forwardedHeader] != nil, engineLeader: leader)
    }

    static func jsonString(_ text: String) -> String {
        (try? String(decoding: JSONEncoder().encode(text), as: UTF8.self)) ?? "\"\""
    }
}
