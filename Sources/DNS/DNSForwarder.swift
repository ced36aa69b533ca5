import NIOCore
import NIOPosix

/// Relays queries for names outside the zone to upstream servers over UDP, in order: the first
/// upstream that answers within the timeout wins; if none does, the caller answers SERVFAIL.
///
/// Deliberately simple: no cache, no retries over TCP, one short-lived socket per relayed query
/// (a fresh source port each time, so answers cannot be matched to the wrong asker). Relaying
/// is off the hot path; in-zone answers never come here.
public final class DNSForwarder: Sendable {
    public let upstreams: [SocketAddress]
    public let timeout: TimeAmount
    /// Relayed queries allowed in flight per listening socket; beyond that, SERVFAIL at once,
    /// so a flood of outside names cannot use up file descriptors.
    public let maxInFlight: Int
    /// Askers whose outside names are relayed; anyone else gets REFUSED, so fleet-dns is
    /// never an open resolver (one that relays for the internet amplifies attacks and poisons
    /// caches). Loopback by default; fleet-dns adds the networks given with `--forward-allow`.
    public let allowedClients: [IPNetwork]

    public init(upstreams: [SocketAddress], timeout: TimeAmount = .seconds(2), maxInFlight: Int = 256,
                allowedClients: [IPNetwork] = IPNetwork.loopback) {
        self.upstreams = upstreams
        self.timeout = timeout
        self.maxInFlight = maxInFlight
        self.allowedClients = allowedClients
    }

    /// True when queries from `client` may be relayed.
    public func allows(_ client: SocketAddress) -> Bool {
        allowedClients.contains { $0.contains(client) }
    }

    func allows(_ client: PackedIPAddress) -> Bool {
        allowedClients.contains { $0.contains(client) }
    }

    /// The first upstream's answer to `query`, on `eventLoop`.
    public func forward(_ query: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        var future: EventLoopFuture<ByteBuffer> = eventLoop.makeFailedFuture(DNSForwardingError.noUpstreams)
        for upstream in upstreams {
            future = future.flatMapError { _ in self.ask(upstream, query, on: eventLoop) }
        }
        return future
    }

    private func ask(_ upstream: SocketAddress, _ query: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        let id = query.getInteger(at: query.readerIndex, as: UInt16.self) ?? 0
        let timeout = self.timeout
        let anyAddress = upstream.protocol == .inet6 ? "::" : "0.0.0.0"
        return DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamReplyHandler(upstream: upstream, id: id, promise: promise))
                }
            }
            .bind(host: anyAddress, port: 0)
            .flatMap { channel in
                let timer = eventLoop.scheduleTask(in: timeout) { promise.fail(DNSForwardingError.timedOut) }
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: query)).whenFailure { promise.fail($0) }
                promise.futureResult.whenComplete { _ in
                    timer.cancel()
                    channel.close(promise: nil)
                }
                return promise.futureResult
            }
    }
}

/// Takes the first datagram from the upstream that is a response with the query's ID.
private final class UpstreamReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let upstream: SocketAddress
    let id: UInt16
    let promise: EventLoopPromise<ByteBuffer>

    init(upstream: SocketAddress, id: UInt16, promise: EventLoopPromise<ByteBuffer>) {
        self.upstream = upstream
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        let data = envelope.data
        guard envelope.remoteAddress == upstream,
              data.getInteger(at: data.readerIndex, as: UInt16.self) == id,
              let flags = data.getInteger(at: data.readerIndex + 2, as: UInt16.self), flags & 0x8000 != 0
        else { return }  // a stray datagram: keep waiting for the real answer
        promise.succeed(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable arrives as a read error: this upstream is down, try the next.
        promise.fail(error)
    }
}

public struct DNSForwardingError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable { case noUpstreams, timedOut }
        private let base: Base
        public static let noUpstreams = Code(base: .noUpstreams)
        public static let timedOut = Code(base: .timedOut)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String

    static let noUpstreams = DNSForwardingError(code: .noUpstreams, message: "no upstream server is configured")
    static let timedOut = DNSForwardingError(code: .timedOut, message: "the upstream server did not answer in time")

    public var description: String { message }
}
