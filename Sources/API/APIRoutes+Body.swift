import FleetAPIClient
import Foundation
import Hummingbird
import NIOCore

extension APIRoutes {
    /// The request body, refused with fleet's error body and 413 when it is larger than `limit`
    /// bytes (NIO's own error would reach the client as a bare 500).
    static func body(of request: Request, upTo limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "request body is larger than \(limit) bytes")
        }
    }

    /// The request body decoded as `type`, within `limit` bytes; a body that does not decode
    /// is fleet's 400 `unable to decode body: ...`.
    static func decodedBody<T: Decodable>(_ type: T.Type, of request: Request, upTo limit: Int) async throws -> T {
        let body = try await body(of: request, upTo: limit)
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw APIError(.badRequest, "unable to decode body: \(describe(error))")
        }
    }

    /// fleet's rule for a unit's body: exactly one `Content-Type`, `application/json`.
    static func requireJSON(_ request: Request) throws {
        let contentTypes = request.headers[values: .contentType]
        guard contentTypes.count == 1 else {
            throw APIError(.unsupportedMediaType, "expected 1 Content-Type, got \(contentTypes.count)")
        }
        let mediaType = contentTypes[0].split(separator: ";", maxSplits: 1).first ?? ""
        guard mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json" else {
            throw APIError(.unsupportedMediaType, "only acceptable Content-Type is application/json")
        }
    }
}
