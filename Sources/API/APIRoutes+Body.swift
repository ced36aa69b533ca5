import FleetAPIClient
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
}
