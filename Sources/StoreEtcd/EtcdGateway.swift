import AsyncHTTPClient
import FleetStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A response that carries etcd's header, so every answer advances the known revision.
protocol EtcdResponse: Decodable, Sendable {
    var revision: Int64 { get }
}

extension EtcdRangeResponse: EtcdResponse { var revision: Int64 { header?.revision.value ?? 0 } }
extension EtcdTxnResponse: EtcdResponse {}
extension EtcdLeaseGrantResponse: EtcdResponse { var revision: Int64 { header?.revision.value ?? 0 } }
extension EtcdLeaseTTLResponse: EtcdResponse { var revision: Int64 { header?.revision.value ?? 0 } }
extension EtcdEmptyResponse: EtcdResponse { var revision: Int64 { header?.revision.value ?? 0 } }
extension EtcdStreamLine: EtcdResponse where Result: EtcdResponse {
    var revision: Int64 { result?.revision ?? 0 }
}

/// etcd's JSON gateway on every member of a cluster: one POST per call over keep-alive HTTP/1.1,
/// moving to the next member whenever one fails.
///
/// A failed attempt is retried on the next member until ``EtcdStore/Configuration/requestTimeout``
/// runs out, with a short backoff after each full round (an election takes a few hundred ms).
/// Whether the failed attempt may already have been applied is reported to the caller, because
/// only the caller can tell its own earlier write from somebody else's (see `EtcdStore+Writes`).
final class EtcdGateway: Sendable {
    /// Why one attempt failed, and so whether and how it may be retried.
    enum AttemptFailure: Error {
        /// Never reached the member (no connection): retry anything.
        case notSent(String)
        /// The member answered that it did not apply it (no leader, overloaded): retry anything.
        case refused(String)
        /// The request may have been applied (connection lost after sending, timeout): retry, but
        /// a write must check whether its first attempt took effect.
        case ambiguous(String)
        /// A definite answer that retrying elsewhere would not change.
        case final(StoreError)
    }

    struct State {
        /// Index into `endpoints` of the member requests start at: the list's first until it
        /// fails. So every fleetd of a cluster starts at the same member, on purpose: fleetds
        /// spread over the members by machine ID were no faster on one host and, on one cluster
        /// of four, 1.4× slower, each seeing the others' writes only once its own member had
        /// applied them (docs/benchmarks.md, "Nineteenth session").
        var preferred = 0
        /// The highest etcd revision any answer has carried.
        var lastRevision: Int64 = 0
        /// Attempts that failed and moved on to another member (diagnostics and tests).
        var failovers = 0
        /// Watch connections opened again after a failure.
        var watchReconnects = 0
        /// Calls answered after an earlier attempt that may have been applied.
        var ambiguousCalls = 0
        /// Calls made, by path (requests per operation, for tests and measurements).
        var calls: [String: Int] = [:]
    }

    /// The most a retry waits at one member (see `call`).
    static let retryAttemptTimeout = Duration.milliseconds(750)
    /// How late past its deadline an attempt may end before the lateness is taken for a pause
    /// of this process rather than a slow member (a timer fires within milliseconds when the
    /// process runs; a busy machine may add a few hundred).
    static let stallAllowance = Duration.seconds(1)

    let endpoints: [String]
    let requestTimeout: Duration
    let attemptTimeout: Duration
    /// Short requests: a small pool of keep-alive connections per member.
    let client: HTTPClient
    /// Watch streams: each holds its connection for as long as it runs, so they get a pool of
    /// their own and can never starve the short requests of connections.
    let streamClient: HTTPClient
    let logger: Logger
    /// etcd's gRPC API for unary calls, when the configuration asks for it (nil: everything goes
    /// through the gateway).
    let grpc: EtcdGRPC?
    private let state = Mutex(State())

    /// The gRPC method of each gateway path the store calls.
    static let grpcMethods: [String: String] = [
        "/v3/kv/range": "/etcdserverpb.KV/Range",
        "/v3/kv/txn": "/etcdserverpb.KV/Txn",
        "/v3/kv/compaction": "/etcdserverpb.KV/Compact",
        "/v3/lease/grant": "/etcdserverpb.Lease/LeaseGrant",
        "/v3/lease/revoke": "/etcdserverpb.Lease/LeaseRevoke",
        "/v3/lease/timetolive": "/etcdserverpb.Lease/LeaseTimeToLive",
        // A bidirectional stream in gRPC; one request and its answer read like a unary call.
        "/v3/lease/keepalive": "/etcdserverpb.Lease/LeaseKeepAlive",
    ]

    init(configuration: EtcdStore.Configuration, logger: Logger) throws {
        guard !configuration.endpoints.isEmpty else {
            throw StoreError(.invalidField, "EtcdStore needs at least one endpoint")
        }
        endpoints = configuration.endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        requestTimeout = configuration.requestTimeout
        attemptTimeout = configuration.attemptTimeout
        self.logger = logger
        var http = HTTPClient.Configuration()
        http.tlsConfiguration = try configuration.tls?.makeTLSConfiguration()
        // HTTP/1.1 only: the brief measured the gateway over keep-alive HTTP/1.1, and it keeps a
        // watch's failure confined to its own connection.
        http.httpVersion = .http1Only
        http.redirectConfiguration = .disallow
        // No read timeout: deadlines bound requests, and an idle watch is not a failure.
        http.timeout = .init(connect: configuration.connectTimeout.timeAmount, read: nil)
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, configuration.connectionsPerEndpoint)
        // A member that refuses connections must fail the request at once so it can move on to
        // the next member; AHC would otherwise keep reconnecting to the dead one until the deadline.
        http.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http,
                            backgroundActivityLogger: logger)
        var streaming = http
        streaming.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1024
        streamClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: streaming,
                                  backgroundActivityLogger: logger)
        grpc = configuration.transport == .grpc && EtcdGRPC.serves(endpoints)
            ? try EtcdGRPC(group: HTTPClient.defaultEventLoopGroup, connectTimeout: configuration.connectTimeout,
                           tls: endpoints.first?.hasPrefix("https://") == true
                               ? try configuration.tls?.makeTLSConfiguration() ?? .makeClientConfiguration() : nil)
            : nil
    }

    func shutdown() async {
        // Both clients must be shut down before they are released; errors here only mean a
        // request was still running, which shutting down cancels anyway.
        try? await streamClient.shutdown()
        try? await client.shutdown()
        grpc?.shutdown()
    }

    var lastRevision: Int64 { state.withLock { $0.lastRevision } }
    var preferredEndpoint: Int { state.withLock { $0.preferred } }
    var failovers: Int { state.withLock { $0.failovers } }
    var watchReconnects: Int { state.withLock { $0.watchReconnects } }
    var ambiguousCalls: Int { state.withLock { $0.ambiguousCalls } }
    /// How many calls were made to `path` (each counted once, however many attempts it took).
    func calls(to path: String) -> Int { state.withLock { $0.calls[path, default: 0] } }

    /// A watch left member `failed` for `next`; later requests leave it too.
    func noteWatchReconnect(from failed: Int, to next: Int) {
        state.withLock {
            $0.watchReconnects += 1
            if $0.preferred == failed { $0.preferred = next }
        }
    }

    func noteRevision(_ revision: Int64) {
        state.withLock { $0.lastRevision = max($0.lastRevision, revision) }
    }

    /// Moves every later request off `failed` (unless somebody already moved them elsewhere).
    func failedOver(from failed: Int, to next: Int) {
        state.withLock {
            $0.failovers += 1
            if $0.preferred == failed { $0.preferred = next }
        }
    }

    /// POSTs `request` to `path` on the preferred member, failing over until it gets an answer.
    ///
    /// - Returns: the decoded answer, and whether an earlier attempt may have been applied too.
    /// - Throws: ``StoreError`` for definite etcd errors, and `.unavailable` when no member
    ///   answered within the request timeout.
    func call<Request: Encodable & EtcdProtobufRequest, Response: EtcdResponse & EtcdProtobufResponse>(
        _ path: String, _ request: Request, as: Response.Type = Response.self
    ) async throws -> (response: Response, mayHaveRunBefore: Bool) {
        let method = grpc == nil ? nil : Self.grpcMethods[path]
        let body = method == nil ? try JSONEncoder().encode(request) : Data()
        let message = method == nil ? ByteBuffer() : request.protobuf
        state.withLock { $0.calls[path, default: 0] += 1 }
        var deadline = ContinuousClock.now + requestTimeout
        var extended = false
        var index = preferredEndpoint
        var mayHaveRunBefore = false
        var failures = 0
        var lastFailure = ""
        while true {
            try Task.checkCancellation()
            let remaining = deadline - .now
            guard remaining > .zero else {
                throw StoreError(.unavailable, "etcd: no member answered \(path) within \(requestTimeout) "
                    + "(\(endpoints.joined(separator: ",")); last failure: \(lastFailure))")
            }
            // Once an attempt has failed the cluster is likely electing, and a member that
            // forwarded our proposal to a dead leader would hold it until its own 5 s timeout;
            // a proposal made after the election commits in milliseconds. So retries give up
            // sooner than first attempts.
            let limit = min(failures == 0 ? attemptTimeout : min(attemptTimeout, Self.retryAttemptTimeout), remaining)
            let attemptStart = ContinuousClock.now
            do {
                let response: Response
                if let grpc, let method {
                    let answer = try await unary(grpc, endpoints[index], method, message, timeout: limit)
                    response = try Self.decode(Response.self, fromProtobuf: answer, path: path)
                } else {
                    let data = try await attempt(endpoints[index], path, body, timeout: limit)
                    response = try Self.decode(Response.self, from: data, path: path)
                }
                state.withLock {
                    $0.lastRevision = max($0.lastRevision, response.revision)
                    if mayHaveRunBefore { $0.ambiguousCalls += 1 }
                }
                return (response, mayHaveRunBefore)
            } catch let failure as AttemptFailure {
                switch failure {
                case .final(let error):
                    throw error
                case .notSent(let why), .refused(let why):
                    lastFailure = "\(endpoints[index]): \(why)"
                case .ambiguous(let why):
                    lastFailure = "\(endpoints[index]): \(why)"
                    mayHaveRunBefore = true
                }
            }
            if !extended, ContinuousClock.now - attemptStart > limit + Self.stallAllowance {
                // The attempt ended far past its own deadline: this process was not running
                // (SIGSTOP, a paused VM), so the member never had the time it was given. One
                // real attempt more, even if the whole call's deadline passed meanwhile; after a
                // pause every call in flight times out at once, and failing them all lost writes.
                extended = true
                deadline = max(deadline, .now + attemptTimeout)
            }
            logger.debug("etcd request failed over", metadata: [
                "etcd.path": "\(path)", "etcd.endpoint": "\(endpoints[index])", "etcd.failure": "\(lastFailure)",
            ])
            failures += 1
            let next = (index + 1) % endpoints.count
            failedOver(from: index, to: next)
            index = next
            if failures % endpoints.count == 0 {
                // Every member failed once: most likely an election. Give it a moment.
                let round = failures / endpoints.count
                let pause = min(Duration.milliseconds(25 << min(round, 5)), .milliseconds(500), deadline - .now)
                if pause > .zero { try await Task.sleep(for: pause) }
            }
        }
    }

    /// One POST to one member; the body of a 200 answer, or the failure classified.
    private func attempt(_ endpoint: String, _ path: String, _ body: Data, timeout: Duration) async throws -> Data {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        let collected: ByteBuffer
        do {
            response = try await client.execute(request, deadline: .now() + timeout.timeAmount)
            collected = try await response.body.collect(upTo: 512 << 20)
        } catch {
            throw Self.classify(transportError: error)
        }
        let data = Data(collected.readableBytesView)
        guard response.status == .ok else {
            throw Self.classify(status: response.status, body: data, path: path)
        }
        return data
    }

    /// One gRPC call to one member; its answer, or the failure classified as ``attempt`` does.
    private func unary(_ grpc: EtcdGRPC, _ endpoint: String, _ method: String, _ message: ByteBuffer,
                       timeout: Duration) async throws -> ByteBuffer {
        do {
            return try await grpc.unary(endpoint, method: method, message: message, timeout: timeout)
        } catch let failure as EtcdGRPC.Failure {
            switch failure {
            case .notSent(let why): throw AttemptFailure.notSent(why)
            case .broken(let why): throw AttemptFailure.ambiguous(why)
            case .timedOut: throw AttemptFailure.ambiguous("attempt timed out")
            case .status(let code, let text): throw Self.classify(grpcCode: code, message: text, path: method)
            }
        } catch {
            throw Self.classify(transportError: error)
        }
    }

    static func decode<Response: EtcdProtobufResponse>(_ type: Response.Type, fromProtobuf message: ByteBuffer,
                                                       path: String) throws -> Response {
        do {
            return try Response(protobuf: ProtobufReader(message))
        } catch {
            throw StoreError(.unavailable, "etcd: unreadable answer to \(path): \(error)")
        }
    }

    /// Whether the member at `index` answers a linearizable read (so it is up and has a leader)
    /// within the attempt timeout; for watches that have been quiet for a while.
    func isServing(endpoint index: Int, key: Data) async -> Bool {
        let request = EtcdRangeRequest(key: key, countOnly: true)
        do {
            if let grpc {
                _ = try await grpc.unary(endpoints[index], method: "/etcdserverpb.KV/Range", message: request.protobuf,
                                         timeout: attemptTimeout)
            } else {
                _ = try await attempt(endpoints[index], "/v3/kv/range", try JSONEncoder().encode(request), timeout: attemptTimeout)
            }
            return true
        } catch {
            return false
        }
    }

    /// Opens a streaming POST (a watch) on the member at `index`; the caller reads the body.
    func openStream(_ path: String, _ body: Data, endpoint index: Int, headers: [(String, String)]) async throws
        -> HTTPClientResponse
    {
        var request = HTTPClientRequest(url: endpoints[index] + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            // A watch lives as long as its consumer; only the connect is bounded.
            response = try await streamClient.execute(request, deadline: .distantFuture)
        } catch {
            throw Self.classify(transportError: error)
        }
        guard response.status == .ok else {
            let data = (try? await response.body.collect(upTo: 1 << 20)).map { Data($0.readableBytesView) } ?? Data()
            throw Self.classify(status: response.status, body: data, path: path)
        }
        return response
    }

    static func decode<Response: Decodable>(_ type: Response.Type, from data: Data, path: String) throws -> Response {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            let text = String(decoding: data.prefix(200), as: UTF8.self)
            throw StoreError(.unavailable, "etcd: unreadable answer to \(path): \(error) in \(text)")
        }
    }

    static func classify(transportError error: any Error) -> any Error {
        if error is CancellationError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .cancelled: return CancellationError()
            case .alreadyShutdown: return AttemptFailure.final(StoreError(.unavailable, "EtcdStore is shut down"))
            case .connectTimeout: return AttemptFailure.notSent("connect timeout")
            case .deadlineExceeded: return AttemptFailure.ambiguous("attempt timed out")
            default: return AttemptFailure.ambiguous("\(error)")
            }
        }
        if error is NIOConnectionError { return AttemptFailure.notSent("cannot connect: \(error)") }
        // Certificates or trust that do not match are configuration, which no retry will change.
        // (With TLS 1.3 the member's rejection of our certificate arrives as an alert after the
        // handshake, as a BoringSSLError; the member never reads the request.)
        if let error = error as? NIOSSLError, case .handshakeFailed = error {
            return AttemptFailure.final(StoreError(.unavailable, "etcd: TLS handshake failed: \(error)"))
        }
        if error is BoringSSLError {
            return AttemptFailure.final(StoreError(.unavailable, "etcd: TLS failed: \(error)"))
        }
        if case ChannelError.connectTimeout = error { return AttemptFailure.notSent("connect timeout") }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return AttemptFailure.notSent("connection refused")
        }
        return AttemptFailure.ambiguous("\(error)")
    }

    /// Maps an etcd error answer (gRPC code in the body) onto retry-or-not and a store error.
    static func classify(status: HTTPResponseStatus, body: Data, path: String) -> AttemptFailure {
        guard let error = try? JSONDecoder().decode(EtcdErrorBody.self, from: body), let code = error.code else {
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            if status.code >= 500 { return .refused("HTTP \(status.code): \(text)") }
            return .final(StoreError(.unavailable, "etcd answered \(path) with HTTP \(status.code): \(text)"))
        }
        let message = error.message ?? error.error ?? "gRPC code \(code)"
        return classify(grpcCode: code, message: message, path: path)
    }

    static func classify(grpcCode code: Int, message: String, path: String) -> AttemptFailure {
        switch code {
        case 14:  // Unavailable
            // "request timed out" and "leader changed" leave a proposal that may still commit;
            // "no leader", "not capable" and "server stopped" were never proposed.
            if message.contains("timed out") || message.contains("leader changed") { return .ambiguous(message) }
            return .refused(message)
        case 8:  // ResourceExhausted: "too many requests", rejected before proposing
            return .refused(message)
        case 4:  // DeadlineExceeded
            return .ambiguous(message)
        case 11 where message.contains("compacted"):  // OutOfRange
            return .final(StoreError(.indexCleared, "etcd: \(message)"))
        case 5 where message.contains("lease not found"):  // NotFound
            return .final(StoreError(.keyNotFound, "etcd: \(message)"))
        default:
            return .final(StoreError(.unavailable, "etcd answered \(path): \(message) (gRPC code \(code))"))
        }
    }
}
