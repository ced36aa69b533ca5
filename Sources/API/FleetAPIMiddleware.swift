import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// What every fleet API response goes through: the 503 until the machine is registered,
/// fleet's error body for every failure (unknown paths included), `Content-Type:
/// application/json` on every answer (bodiless ones too), the `Server` header, and the
/// request counters.
///
/// It sits in front of the whole router, but leaves requests outside fleet's API (the keys
/// API that shares fleetd's socket) as they are, apart from counting them.
struct FleetAPIMiddleware<Context: RequestContext>: RouterMiddleware {
    let readiness: APIReadiness
    let metrics: APIMetrics

    /// fleet answers `/`, everything under its two prefixes, and unknown paths.
    static func isFleetPath(_ path: String) -> Bool {
        path == "/" || path == "/fleet/v1" || path.hasPrefix("/fleet/v1/") || path == "/v1-alpha"
            || path.hasPrefix("/v1-alpha/")
    }

    /// The route a request is counted under: the resource, never a unit or machine name.
    static func resource(_ path: String) -> String {
        if let resource = APIRoutes.Resource(path: path) { return resource.rawValue }
        if path.hasPrefix("/v2/") || path == "/version" || path == "/health" { return "keys" }
        return "other"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        var response: Response
        if Self.isFleetPath(path) || path == "/metrics" {
            response = await fleetResponse(request, context: context, next: next)
        } else {
            do {
                response = try await next(request, context)
            } catch let error as HTTPError where error.status == .notFound {
                // No route at all: fleet's 404 body, as for any unknown path.
                response = APIError(.notFound, "").response()
            } catch {
                if let error = error as? any HTTPResponseError { count(request, error.status.code) }
                throw error
            }
        }
        response.headers[.server] = APIRoutes.serverName
        count(request, response.status.code)
        return response
    }

    func fleetResponse(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async -> Response {
        if !readiness.isReady && request.uri.path != "/metrics" {
            return APIError(.serviceUnavailable, "fleet server unable to communicate with etcd").response()
        }
        do {
            var response = try await next(request, context)
            // Bodiless answers (204 to PUT, DELETE and PATCH; 201 to a create) say JSON too:
            // fleet's clients check the media type of every reply, empty or not.
            if response.headers[.contentType] == nil { response.headers[.contentType] = "application/json" }
            return response
        } catch let error as APIError {
            return error.response()
        } catch let error as HTTPError where error.status == .notFound {
            // No route: another method on a resource is 405, anything else an unknown path.
            guard let resource = APIRoutes.Resource(path: request.uri.path) else { return APIError(.notFound, "").response() }
            var response = resource.methodNotAllowed.response()
            if !resource.allowed.isEmpty { response.headers[.allow] = resource.allowed }
            return response
        } catch let error as HTTPError {
            return APIError(error.status, error.body ?? "").response()
        } catch is NIOTooManyBytesError {
            // A body read by a route without its own limit message: still 413, in fleet's shape.
            return APIError(.contentTooLarge, "request body is too large").response()
        } catch {
            context.logger.warning("fleet API request failed", metadata: ["error": "\(error)", "http.path": "\(request.uri.path)"])
            return APIError(.internalServerError, "").response()
        }
    }

    func count(_ request: Request, _ code: Int) {
        metrics.count(resource: Self.resource(request.uri.path), method: request.method.rawValue, code: code)
    }
}
