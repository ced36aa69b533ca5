import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// etcd's gRPC API: one HTTP/2 connection per member, each call (Range, Txn, leases) and each
/// Watch a stream of its own on it.
///
/// Measured beside the JSON gateway on the same member (docs/benchmarks.md, "etcd: gRPC beside
/// the gateway"): the gateway's JSON decoding and encoding was two thirds of the CPU of the
/// member every fleetd talks to during a start of 200 units.
///
/// Written on swift-nio-http2 directly rather than grpc-swift because etcd's Go server sends a
/// flow-control PING after nearly every request, and swift-nio-http2 by default answers more
/// than 200 control frames in 30 s with GOAWAY; grpc-swift's transport has no setting for that
/// limit, `NIOHTTP2Handler.ConnectionConfiguration` does (see `../shared/reference/etcd-v3.md`).
final class EtcdGRPC: Sendable {
    /// A call's failure, for ``EtcdGateway`` to classify.
    enum Failure: Error {
        /// No stream could be opened (no connection, or the connection is going away):
        /// nothing was sent.
        case notSent(String)
        /// The stream failed after the request may have been sent.
        case broken(String)
        /// etcd answered with a gRPC status other than OK.
        case status(code: Int, message: String)
        /// No answer within the attempt's time.
        case timedOut
    }

    /// The largest answer read (a range over many large values); etcd's own default limit on
    /// what it sends is far above, so bigger answers fail rather than exhaust memory.
    static let maxMessageBytes = 256 << 20

    private struct Connection: Sendable {
        var channel: any Channel
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer
        /// The TLS error that ended the connection, if one did.
        var tlsFailure: TLSFailure
        var activity: ReadActivity

        /// Ends what a timed-out call began at `start`: the whole connection if it has read
        /// nothing since (the member is stuck, or gone and TCP has not noticed), else only the
        /// call's stream. After a pause of this process (SIGSTOP, a VM paused) every deadline
        /// in flight passes at once while the connection is sound: closing it failed the other
        /// calls on it too (issue 16, the leader-fencing test on etcd).
        func timedOut(since start: NIODeadline, stream: EventLoopFuture<any Channel>) {
            if activity.lastRead < start {
                channel.close(promise: nil)
            } else {
                stream.whenSuccess { $0.close(promise: nil) }
            }
        }
    }

    /// When a connection last read from its member.
    final class ReadActivity: Sendable {
        private let nanoseconds = Atomic<UInt64>(0)

        var lastRead: NIODeadline { .uptimeNanoseconds(nanoseconds.load(ordering: .relaxed)) }

        func noteRead() { nanoseconds.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }
    }

    /// Where a connection's TLS error is kept for the calls it broke: with TLS 1.3 a member
    /// refuses our certificate only after the handshake, with an alert that closes the
    /// connection under the calls already sent.
    final class TLSFailure: Sendable {
        let error = Mutex<(any Error)?>(nil)
    }

    private let group: any EventLoopGroup
    private let connectTimeout: Duration
    /// TLS for `https://` members, offering only HTTP/2 (ALPN `h2`); nil for `http://` ones.
    private let tls: NIOSSLContext?
    /// Endpoint → its connection (or the connect in progress).
    private let connections = Mutex<[String: EventLoopFuture<Connection>]>([:])

    /// - Parameter tls: the client TLS of `https://` members (their CA, our certificate);
    ///   nil means plain `http://` members.
    init(group: any EventLoopGroup, connectTimeout: Duration, tls: TLSConfiguration?) throws {
        self.group = group
        self.connectTimeout = connectTimeout
        if var tls {
            tls.applicationProtocols = ["h2"]
            self.tls = try NIOSSLContext(configuration: tls)
        } else {
            self.tls = nil
        }
    }

    /// Whether the endpoints are ones this transport serves: `scheme://host:port`, all
    /// `http` or all `https`.
    static func serves(_ endpoints: [String]) -> Bool {
        let addresses = endpoints.map(Address.init)
        return addresses.allSatisfy { $0 != nil } && Set(addresses.map { $0?.secure }).count == 1
    }

    func shutdown() {
        let open = connections.withLock { all in
            defer { all.removeAll() }
            return Array(all.values)
        }
        for future in open {
            future.whenSuccess { $0.channel.close(promise: nil) }
        }
    }

    /// The member's connection (made now if there is none), and its address.
    private func open(_ endpoint: String) async throws -> (Address, Connection) {
        guard let address = Address(endpoint), address.secure == (tls != nil) else {
            throw Failure.notSent("not an endpoint of this transport: \(endpoint)")
        }
        do {
            return (address, try await connect(endpoint, address).get())
        } catch {
            _ = connections.withLock { $0.removeValue(forKey: endpoint) }
            throw error
        }
    }

    /// One unary call: `message` to `method` (e.g. `/etcdserverpb.KV/Txn`) on `endpoint`.
    func unary(_ endpoint: String, method: String, message: ByteBuffer, timeout: Duration) async throws -> ByteBuffer {
        let (address, connection) = try await open(endpoint)
        let eventLoop = connection.channel.eventLoop
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        let opened = eventLoop.makePromise(of: (any Channel).self)
        let handler = UnaryCallHandler(method: method, scheme: address.secure ? "https" : "http",
                                       authority: address.authority, message: message, promise: promise)
        let start = NIODeadline.now()
        let created = eventLoop.makePromise(of: (any Channel).self)
        // A stream made after the deadline is closed at once (its call was given up).
        created.futureResult.whenSuccess { stream in opened.futureResult.whenFailure { _ in stream.close(promise: nil) } }
        opened.completeWith(created.futureResult)
        // The deadline covers opening the stream too: nothing below may wait without one.
        let timer = eventLoop.scheduleTask(in: timeout.timeAmount) {
            promise.fail(Failure.timedOut)
            opened.fail(Failure.timedOut)
            connection.timedOut(since: start, stream: created.futureResult)
        }
        // Cancelled on the event loop the moment the answer is in: after a pause of this process
        // the answer read and the expired timer run in the same turn of the loop, answer first,
        // and the timer must not then end a call that has its answer.
        promise.futureResult.whenComplete { _ in timer.cancel() }
        defer { timer.cancel() }
        connection.multiplexer.createStreamChannel(promise: created) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        let stream: any Channel
        do {
            stream = try await opened.futureResult.get()
        } catch Failure.timedOut {
            throw Failure.timedOut
        } catch {
            // A connection that cannot open streams (GOAWAY, closed) is made anew next time.
            drop(connection)
            promise.fail(Failure.notSent("cannot open a stream: \(error)"))
            throw Failure.notSent("cannot open a stream: \(error)")
        }
        return try await withTaskCancellationHandler {
            do {
                return try await promise.futureResult.get()
            } catch Failure.broken(let why) {
                // A refused certificate is configuration, not a member in trouble: say so.
                if let tlsError = connection.tlsFailure.error.withLock({ $0 }) { throw tlsError }
                throw Failure.broken(why)
            }
        } onCancel: {
            promise.fail(CancellationError())
            stream.close(promise: nil)
        }
    }

    /// A server-streaming use of a bidirectional call (etcd's Watch): sends `message` and keeps
    /// the stream open, calling `onMessage` with each message in order; the next frame is read
    /// only once it returns, so a slow consumer holds the member back (HTTP/2 flow control)
    /// rather than filling memory. Returns why the stream ended when `onMessage` did not end it.
    ///
    /// - Parameter metadata: extra request headers (gRPC metadata).
    /// - Parameter openTimeout: how long opening the stream may take.
    func stream(_ endpoint: String, method: String, message: ByteBuffer, metadata: [(String, String)],
                openTimeout: Duration, onMessage: (ByteBuffer) async throws -> Bool) async throws -> String {
        let (address, connection) = try await open(endpoint)
        let eventLoop = connection.channel.eventLoop
        let opened = eventLoop.makePromise(of: NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>.self)
        let created = eventLoop.makePromise(of: (any Channel).self)
        let start = NIODeadline.now()
        let openTimer = eventLoop.scheduleTask(in: openTimeout.timeAmount) {
            opened.fail(Failure.timedOut)
            connection.timedOut(since: start, stream: created.futureResult)
        }
        opened.futureResult.whenComplete { _ in openTimer.cancel() }
        created.futureResult.whenFailure { opened.fail($0) }
        created.futureResult.whenSuccess { stream in opened.futureResult.whenFailure { _ in stream.close(promise: nil) } }
        connection.multiplexer.createStreamChannel(promise: created) { channel in
            channel.eventLoop.makeCompletedFuture {
                opened.succeed(try NIOAsyncChannel(wrappingChannelSynchronously: channel))
            }
        }
        let call: NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>
        do {
            call = try await opened.futureResult.get()
        } catch Failure.timedOut {
            // The timer already closed what was stuck: the stream, or the connection if silent.
            throw Failure.notSent("opening a stream took over \(openTimeout)")
        } catch {
            drop(connection)
            throw Failure.notSent("cannot open a stream: \(error)")
        }
        let scheme = address.secure ? "https" : "http"
        return try await call.executeThenClose { inbound, outbound in
            var headers = Self.requestHeaders(method: method, scheme: scheme, authority: address.authority)
            for (name, value) in metadata { headers.add(name: name, value: value) }
            try await outbound.write(.headers(.init(headers: headers)))
            try await outbound.write(.data(.init(data: .byteBuffer(Self.framed(message)), endStream: false)))
            var pending = ByteBuffer()
            var status = ""
            for try await frame in inbound {
                switch frame {
                case .headers(let frame):
                    if let code = frame.headers.first(name: ":status") { status = code }
                    if let grpcStatus = frame.headers.first(name: "grpc-status") {
                        let text = frame.headers.first(name: "grpc-message").map { $0.removingPercentEncoding ?? $0 } ?? ""
                        return "stream ended: gRPC status \(grpcStatus) \(text)"
                    }
                    guard status == "200" else { return "stream answered with HTTP status \(status)" }
                case .data(let frame):
                    guard case .byteBuffer(var chunk) = frame.data else { continue }
                    guard pending.readableBytes + chunk.readableBytes <= Self.maxMessageBytes + 5 else {
                        throw Failure.broken("stream message larger than \(Self.maxMessageBytes) bytes")
                    }
                    pending.writeBuffer(&chunk)
                    while let message = try Self.nextMessage(&pending) {
                        guard try await onMessage(message) else { return "the consumer ended the stream" }
                    }
                    if frame.endStream { return "stream ended without gRPC trailers" }
                default:
                    continue
                }
            }
            return "the member closed the stream"
        }
    }

    /// Takes one whole length-prefixed gRPC message off the front of `buffer`, or nil while it
    /// holds only part of one.
    static func nextMessage(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let compressed = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        guard compressed == 0 else { throw Failure.broken("compressed gRPC message (none was asked for)") }
        guard Int(length) <= maxMessageBytes else { throw Failure.broken("gRPC message of \(length) bytes") }
        guard buffer.readableBytes >= 5 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let message = buffer.readSlice(length: Int(length))
        buffer.discardReadBytes()
        return message
    }

    static func requestHeaders(method: String, scheme: String, authority: String) -> HPACKHeaders {
        [":method": "POST", ":scheme": scheme, ":path": method, ":authority": authority,
         "content-type": "application/grpc", "te": "trailers"]
    }

    /// gRPC's length-prefixed message: not compressed, then the length (big-endian).
    static func framed(_ message: ByteBuffer) -> ByteBuffer {
        var framed = ByteBuffer()
        framed.reserveCapacity(message.readableBytes + 5)
        framed.writeInteger(UInt8(0))
        framed.writeInteger(UInt32(truncatingIfNeeded: message.readableBytes))
        framed.writeImmutableBuffer(message)
        return framed
    }

    /// Drops a connection that cannot open streams: closing it takes it out of `connections`
    /// (see `connect`), so a newer connection to the same member is left alone.
    private func drop(_ connection: Connection) {
        connection.channel.close(promise: nil)
    }

    private func connect(_ endpoint: String, _ address: Address) -> EventLoopFuture<Connection> {
        connections.withLock { all in
            if let existing = all[endpoint] { return existing }
            var configuration = NIOHTTP2Handler.ConnectionConfiguration()
            // etcd's server PINGs after almost every request (BDP estimation) and NIO answers
            // each; the default limit of 200 in 30 s would end a busy connection with GOAWAY.
            configuration.controlFrameRateLimit.maximumCount = 1 << 30
            // HTTP/2's default windows (64 KiB for the connection and for each stream) would
            // cost a round trip per 64 KiB of a large range answer, shared by every call and
            // watch on the connection. A stream's window is also what a watch whose reader is
            // busy may hold unread, so it stays at 1 MiB (watches are bounded by WatchLimits).
            configuration.targetWindowSize = 8 << 20
            var stream = NIOHTTP2Handler.StreamConfiguration()
            stream.targetWindowSize = 1 << 20
            let tls = self.tls
            let tlsFailure = TLSFailure()
            let activity = ReadActivity()
            let future = ClientBootstrap(group: group)
                .connectTimeout(connectTimeout.timeAmount)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(ReadActivityRecorder(activity: activity))
                        if let tls {
                            // No SNI for an IP address; NIOSSL then checks the address against
                            // the certificate's IP names instead of a host name.
                            let isIP = (try? SocketAddress(ipAddress: address.host, port: 0)) != nil
                            try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: isIP ? nil : address.host))
                            try pipeline.addHandler(HandshakeWaiter(promise: channel.eventLoop.makePromise(), failure: tlsFailure))
                        }
                        _ = try pipeline.configureHTTP2Pipeline(
                            mode: .client, connectionConfiguration: configuration, streamConfiguration: stream,
                            inboundStreamInitializer: { $0.close() })
                    }
                }
                .connect(host: address.host, port: address.port)
                .flatMap { channel in
                    Self.handshake(channel, secure: tls != nil).flatMap {
                        channel.pipeline.handler(type: NIOHTTP2Handler.self).flatMapThrowing { handler in
                            Connection(channel: channel, multiplexer: try handler.syncMultiplexer(), tlsFailure: tlsFailure,
                                       activity: activity)
                        }
                    }.flatMapErrorThrowing { error in
                        channel.close(promise: nil)
                        throw error
                    }
                }
            all[endpoint] = future
            // A connection that closes is dropped, so the next call connects again.
            future.whenSuccess { [weak self] connection in
                connection.channel.closeFuture.whenComplete { _ in
                    self?.connections.withLock { all in
                        if let current = all[endpoint], current === future { all[endpoint] = nil }
                    }
                }
            }
            return future
        }
    }

    /// With TLS, the connection is ready once the handshake agreed on HTTP/2; a handshake that
    /// fails (a certificate refused on either side) fails the connect with the TLS error, which
    /// the gateway classifies as final, as it does for its own connections.
    private static func handshake(_ channel: any Channel, secure: Bool) -> EventLoopFuture<Void> {
        guard secure else { return channel.eventLoop.makeSucceededVoidFuture() }
        return channel.pipeline.handler(type: HandshakeWaiter.self).flatMap { $0.promise.futureResult }
            .flatMapThrowing { negotiated in
                guard negotiated == "h2" else {
                    throw Failure.notSent("the member did not offer HTTP/2 over TLS (ALPN: \(negotiated ?? "none"))")
                }
            }
    }

    /// `http://host:port` or `https://host:port` split up.
    struct Address {
        var host: String
        var port: Int
        var authority: String
        var secure: Bool

        init?(_ endpoint: String) {
            if endpoint.hasPrefix("http://") {
                secure = false
            } else if endpoint.hasPrefix("https://") {
                secure = true
            } else {
                return nil
            }
            var rest = endpoint.dropFirst(secure ? "https://".count : "http://".count)
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.contains("/"), let colon = rest.lastIndex(of: ":"),
                  let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port)
            else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self.host = host
            self.port = port
            authority = String(rest)
        }
    }
}
