import FleetHTTPServer
import Foundation
import HTTPTypes
import Hummingbird

extension KeysAPI {
    /// etcd serves the keys API behind Go's `ServeMux`, which answers a path that is not clean
    /// (`//dir//key`, `/a/./b`) with a 301 to the clean one, whatever the method. Clients (and
    /// the differential test against etcd) see the redirect, so we answer the same.
    ///
    /// A path with `..` is not redirected: etcd would resolve it (possibly out of `/v2/keys`),
    /// we refuse it with 400 (``StoreKey/normalize(_:)``), a difference kept on purpose.
    ///
    /// - Returns: the 301 response, or nil when the path is clean (or has `..`).
    static func redirectToCleanPath(_ request: Request) -> Response? {
        let decoded = PercentDecoding.decode(request.uri.path) ?? request.uri.path
        guard let clean = cleanPath(decoded), clean != decoded else { return nil }
        let encoded = clean.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? clean
        var location = encoded
        if let query = request.uri.query, !query.isEmpty { location += "?" + query }
        var headers = HTTPFields()
        headers[.location] = location
        // Go's `http.Redirect` types the answer to GET and HEAD and writes a body for GET only.
        if request.method == .get || request.method == .head { headers[.contentType] = "text/html; charset=utf-8" }
        let body = request.method == .get ? "<a href=\"\(htmlEscaped(location))\">Moved Permanently</a>.\n\n" : ""
        return Response(status: .movedPermanently, headers: headers,
                         body: body.isEmpty ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// The path with empty and `.` segments removed and a trailing slash kept, as Go's
    /// `cleanPath` makes it; nil when a segment is `..`.
    static func cleanPath(_ path: String) -> String? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !segments.contains("..") else { return nil }
        var clean = "/" + segments.filter { $0 != "." }.joined(separator: "/")
        if path.hasSuffix("/") && clean != "/" { clean += "/" }
        return clean
    }

    private static func htmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&#34;")
    }
}
