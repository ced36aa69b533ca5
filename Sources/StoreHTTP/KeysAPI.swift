import FleetHTTPServer
import FleetRemoteStore
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Serves a ``KeyValueStore`` as etcd's v2 keys API, so `curl`, `ETCDCTL_API=2 etcdctl` and
/// other fleetds (through `RemoteStore`) can read, write and watch it.
///
/// Routes: `/v2/keys/...` (HEAD, GET incl. `wait`/`stream` watches, PUT, POST, DELETE),
/// `/v2/members`, `/v2/machines`, `/version`, `/health`, and our extension `POST /v2/batch`
/// (``V2Batch``, `KeysAPI+Batch.swift`).
public struct KeysAPI: Sendable {
    let store: any KeyValueStore
    /// The URLs this server is reachable at, as `/v2/members` advertises them (etcdctl needs one).
    let clientURLs: [String]
    /// Requests with a larger body are refused; etcd's own limit is about 1.5 MiB.
    let maxBodyBytes: Int
    /// ``maxBodyBytes`` unless the server is told otherwise.
    public static let defaultMaxBodyBytes = 1_572_864

    public init(store: any KeyValueStore, clientURLs: [String], maxBodyBytes: Int = KeysAPI.defaultMaxBodyBytes) {
        self.store = store
        self.clientURLs = clientURLs
        self.maxBodyBytes = maxBodyBytes
    }

    static let clusterID = "cdf818194e3a8c32"
    static let memberID = "8e9e05c52164694d"

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        for path in ["/v2/keys", "/v2/keys/**"] {
            router.on(RouterPath(path), method: .get) { request, context in
                try await keys(request, channel: (context as? any ConnectionAwareContext)?.channel)
            }
            router.on(RouterPath(path), method: .head) { request, context in
                try await keys(request, channel: (context as? any ConnectionAwareContext)?.channel)
            }
            router.on(RouterPath(path), method: .put) { request, _ in try await keys(request) }
            router.on(RouterPath(path), method: .post) { request, _ in try await keys(request) }
            router.on(RouterPath(path), method: .delete) { request, _ in try await keys(request) }
            for method: HTTPRequest.Method in [.patch, .options] {
                router.on(RouterPath(path), method: method) { _, _ in Self.methodNotAllowed() }
            }
        }
        router.post(RouterPath(V2Batch.path)) { request, context in
            try await batch(request, parsed: (context as? any ParsedBatchContext)?.parsedBatch)
        }
        router.get("/v2/members") { _, _ in
            json(["members": [Member(id: Self.memberID, name: "fleetd", peerURLs: [], clientURLs: clientURLs)]])
        }
        router.get("/v2/machines") { _, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: clientURLs.joined(separator: ", "))))
        }
        router.get("/version") { _, _ in json(["etcdserver": "3.4.23", "etcdcluster": "3.4.0"]) }
        router.get("/health") { _, _ in json(["health": "true"]) }
    }

    struct Member: Codable {
        var id: String
        var name: String
        var peerURLs: [String]
        var clientURLs: [String]
    }

    /// `channel` is the request's connection, when the context knows it: a watch ends when its
    /// client leaves.
    func keys(_ request: Request, channel: (any Channel)? = nil) async throws -> Response {
        if let redirect = Self.redirectToCleanPath(request) { return redirect }
        do {
            let key = try StoreKey.normalize(Self.key(of: request.uri.path))
            switch request.method {
            case .get, .head:
                let params = V2Parameters(query: request.uri.query, formBody: nil)
                if try params.bool("wait") == true {
                    return try await watch(key, params, channel: channel)
                }
                let node = try await store.get(key, recursive: try params.bool("recursive") ?? false)
                let index = try await store.currentIndex()
                let event = V2Event(StoreEvent(action: .get, node: node), now: Date())
                var hidden = event
                hidden.node = V2Node(node, now: Date(), hidingUnderscored: true)
                return respond(hidden, status: .ok, index: index, head: request.method == .head)
            default:
                let body = try await request.body.collect(upTo: maxBodyBytes)
                let params = V2Parameters(query: request.uri.query, formBody: String(buffer: body))
                return respond(try await write(request.method, key, params))
            }
        } catch let error as StoreError {
            return errorResponse(error)
        } catch is NIOTooManyBytesError {
            // What `collect(upTo:)` throws; etcd-shaped, with the status that says what happened.
            return errorResponse(StoreError(.bodyTooLarge, "request body is larger than \(maxBodyBytes) bytes"))
        }
    }

    /// What a write did, before it is a reply: a lone request's (``respond(_:)``) or one
    /// answer of a batch's (`KeysAPI+Batch.swift`).
    struct WriteOutcome {
        var event: StoreEvent
        var status: HTTPResponse.Status
        /// The write was guarded, and the guard checked (``guardCheckedHeader``).
        var guardChecked = false
        /// The write attached its key to an owner (``ownerCheckedHeader``).
        var ownerChecked = false
        /// `noValueOnSuccess=true`: the reply names the action only.
        var valueless = false
    }

    /// A `PUT`, `POST` or `DELETE` of `key` with `params` (query string and form body merged).
    func write(_ method: HTTPRequest.Method, _ key: String, _ params: V2Parameters) async throws -> WriteOutcome {
        guard try params.bool("wait") == nil else { throw StoreError(.invalidField, "\"wait\" can only be used with GET requests") }
        switch method {
        case .put:
            var outcome = try await put(key, params)
            outcome.guardChecked = try params.storeGuard() != nil
            return outcome
        case .post:
            guard try params.storeGuard() == nil else { throw StoreError(.invalidField, "in-order keys cannot be guarded") }
            let ttl = try params.ttl()
            let event = try await store.apply(.createInOrder(key: key, value: params.string("value") ?? "", ttl: ttl ?? nil))
            return WriteOutcome(event: event, status: .created)
        case .delete:
            let event = try await store.apply(.delete(key: key, directory: try params.bool("dir") ?? false,
                                                      recursive: try params.bool("recursive") ?? false,
                                                      condition: try params.condition()))
            return WriteOutcome(event: event, status: .ok, guardChecked: try params.storeGuard() != nil)
        default:
            throw StoreError(.invalidField, "\(method) is not a write")
        }
    }

    func put(_ key: String, _ params: V2Parameters) async throws -> WriteOutcome {
        let condition = try params.condition()
        let ttl = try params.ttl()
        let isDirectory = try params.bool("dir") ?? false
        if let owner = params.string("owner") {
            return try await attach(key, to: owner, params, condition: condition)
        }
        if try params.bool("refresh") == true {
            guard let seconds = ttl ?? nil else { throw StoreError(.refreshTTLRequired, "No TTL value set") }
            guard (params.string("value") ?? "").isEmpty else { throw StoreError(.refreshValue, "A value was provided on a refresh") }
            let event = try await store.apply(.refresh(key: key, ttl: seconds, condition: condition))
            return WriteOutcome(event: event, status: .ok)
        }
        // A value beside `dir=true` is ignored, as etcd ignores it: the directory is made.
        let event = try await store.apply(.set(key: key, value: isDirectory ? nil : (params.string("value") ?? ""),
                                               ttl: ttl ?? nil, condition: condition))
        return WriteOutcome(event: event, status: Self.created(event) ? .created : .ok,
                            valueless: try params.bool("noValueOnSuccess") == true)
    }

    /// Our extension, not etcd's: `owner=<key>` attaches the value to that key's lifetime
    /// (``StoreWrite/attach(key:value:owner:condition:)``). The reply says so in
    /// ``ownerCheckedHeader``: a server without the extension stores the value for ever, and
    /// `RemoteStore` must not take that for an attached key.
    func attach(_ key: String, to owner: String, _ params: V2Parameters,
                condition: StoreCondition) async throws -> WriteOutcome {
        guard try params.ttl() == nil, try params.bool("dir") == nil, try params.bool("refresh") == nil else {
            throw StoreError(.invalidField, "\"owner\" cannot be used with \"ttl\", \"dir\" or \"refresh\"")
        }
        let event = try await store.apply(.attach(key: key, value: params.string("value") ?? "", owner: owner,
                                                  condition: condition))
        return WriteOutcome(event: event, status: Self.created(event) ? .created : .ok, ownerChecked: true)
    }

    static func created(_ event: StoreEvent) -> Bool {
        event.action == .create || (event.action == .set && event.prevNode == nil)
    }

    /// A lone write's reply.
    func respond(_ outcome: WriteOutcome) -> Response {
        var response = outcome.valueless
            ? json(["action": outcome.event.action.rawValue], status: outcome.status, index: outcome.event.index)
            : respond(V2Event(outcome.event, now: Date()), status: outcome.status, index: outcome.event.index)
        if outcome.ownerChecked { response.headers[HTTPField.Name(Self.ownerCheckedHeader)!] = "true" }
        if outcome.guardChecked { response.headers[HTTPField.Name(Self.guardCheckedHeader)!] = "true" }
        return response
    }

    static let ownerCheckedHeader = "X-Fleet-Owner-Checked"
    /// On every reply: what this keys API does beyond etcd v2's, so a client can ask first.
    static let featuresHeader = "X-Fleet-Store-Features"

    /// A long-poll (`wait=true`) or streaming (`stream=true`) watch. Headers go out at once with
    /// the index the watch started at; events follow as they happen.
    ///
    /// The watch (and the store's watcher behind it) ends as soon as the client leaves, seen on
    /// `channel`: otherwise an abandoned long-poll would hold its connection and descriptor
    /// until the next matching change, which may never come.
    ///
    /// A streaming watch asked for `heartbeat=<seconds>` (``V2Heartbeat``) gets an empty line
    /// whenever it has had nothing for that long, so its client can tell a quiet key from a dead
    /// connection without making the watch anew.
    func watch(_ key: String, _ params: V2Parameters, channel: (any Channel)?) async throws -> Response {
        let recursive = try params.bool("recursive") ?? false
        let streaming = try params.bool("stream") ?? false
        let heartbeat = try params.heartbeat()
        let startIndex = try await store.currentIndex()
        // A watch never ends by itself; end it when the server shuts down gracefully, or the
        // shutdown would wait for every open watch forever.
        let watch = try await store.watch(key, recursive: recursive, fromIndex: try params.index("waitIndex"))
        let limit = WatchLimits.defaultMaxPendingEvents
        let batches = batchesUntilDisconnected(watch.cancelOnGracefulShutdown(), channel: channel, limit: limit,
                                               heartbeat: streaming ? heartbeat : nil) {
            StoreError.watchFellBehind(at: $0.index, limit: limit)
        }
        var headers = Self.headers(index: startIndex)
        headers[.contentType] = "application/json"
        let body = ResponseBody { writer in
            defer { batches.finish() }
            // The events of one commit arrive together: they go out as one write (one TLS
            // record, one flush), each still its own line.
            var lines = ByteBuffer()
            do {
                for try await batch in batches {
                    if batch.isEmpty {  // a heartbeat
                        try await writer.write(ByteBuffer(integer: V2Heartbeat.line))
                        continue
                    }
                    let now = Date()
                    for event in streaming ? batch[...] : batch.prefix(1) {
                        lines.writeBytes(V2Event(event, now: now).jsonBytes)
                        lines.writeInteger(UInt8(ascii: "\n"))
                    }
                    try await writer.write(lines)
                    lines.clear()
                    if !streaming { break }
                }
            } catch let error as StoreError {
                lines.writeBytes(try V2JSON.encoder.encode(V2Error(error)))
                lines.writeInteger(UInt8(ascii: "\n"))
                try await writer.write(lines)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// etcd's answer to a method the keys API does not serve: Go's `http.Error` text.
    static func methodNotAllowed() -> Response {
        var headers = HTTPFields()
        headers[.allow] = "HEAD,GET,PUT,POST,DELETE"
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .methodNotAllowed, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: "Method Not Allowed\n")))
    }

    /// The header that tells a client its write's guard was checked: a server that does not know
    /// our `guardKey` extension (etcd itself) would apply the write unguarded, and `RemoteStore`
    /// must not mistake that for a fenced write.
    static let guardCheckedHeader = "X-Fleet-Guard-Checked"

    /// The key a request path names (percent-decoded, not yet normalized). Public because
    /// fleetd's role checks must read a path exactly as the keys API does.
    public static func key(of path: String) -> String {
        let decoded = PercentDecoding.decode(path) ?? path
        return String(decoded.dropFirst("/v2/keys".count))
    }

    static func headers(index: UInt64) -> HTTPFields {
        var headers = HTTPFields()
        headers[HTTPField.Name("X-Etcd-Cluster-Id")!] = clusterID
        headers[HTTPField.Name("X-Etcd-Index")!] = String(index)
        headers[HTTPField.Name(featuresHeader)!] = "guard,attach," + V2Batch.feature + "," + V2Heartbeat.feature
        return headers
    }

    func respond(_ event: V2Event, status: HTTPResponse.Status, index: UInt64, head: Bool = false) -> Response {
        var headers = Self.headers(index: index)
        headers[HTTPField.Name("X-Raft-Index")!] = String(index)
        headers[HTTPField.Name("X-Raft-Term")!] = "2"
        headers[.contentType] = "application/json"
        var body = event.jsonBytes
        body.append(0x0A)
        return Response(status: status, headers: headers,
                        body: head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    func errorResponse(_ error: StoreError) -> Response { Self.errorResponse(error) }

    /// etcd's error document for `error`, with the HTTP status its code has.
    public static func errorResponse(_ error: StoreError) -> Response {
        var headers = Self.headers(index: error.index)
        headers[.contentType] = "application/json"
        let data = (try? V2JSON.encoder.encode(V2Error(error))) ?? Data()
        return Response(status: HTTPResponse.Status(code: error.code.httpStatus), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + [0x0A])))
    }

    func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, index: UInt64? = nil) -> Response {
        var headers = index.map(Self.headers(index:)) ?? HTTPFields()
        headers[.contentType] = "application/json"
        let data = (try? V2JSON.encoder.encode(value)) ?? Data()
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
