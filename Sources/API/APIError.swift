import FleetAPIClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An API failure with the status and message fleet answers with; rendered as fleet's error
/// body, `{"error":{"code":404,"message":"unit does not exist"}}` (the message may be empty,
/// as fleet leaves it for unknown paths and the bare 405s).
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    func response() -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(ErrorBody(error: .init(code: status.code, message: message)))) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
