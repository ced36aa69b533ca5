import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// fleet-dns's sockets: UDP and TCP on one port, answering from the views a ``ZonePublisher``
/// hands out.
///
/// UDP uses several sockets bound to the same port with SO_REUSEPORT, so the kernel spreads
/// askers over the cores. By default (``UDPEngine/batched``) each socket has a thread of its own
/// reading and answering up to `vectorReadMessageCount` datagrams per `recvmmsg`, allocating
/// nothing per query (``DNSBatchedUDPListener``). ``UDPEngine/eventLoop`` serves them with classic
/// NIO channel handlers on the event loops instead (no hop to the concurrency pool per packet,
/// which measured at about half the throughput). TCP is always NIO.
public final class DNSServer: Service, Sendable {
    /// How UDP queries are read and answered.
    public enum UDPEngine: String, Sendable, CaseIterable {
        /// One thread per socket over `recvmmsg`/`sendmmsg`, nothing allocated per query.
        case batched
        /// SwiftNIO datagram channels with vector reads, on the event loops.
        case eventLoop = "event-loop"
    }

    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port (the same one for UDP and TCP).
        public var port: Int
        /// UDP sockets; by default one per event loop in the group (one per core).
        public var udpSockets: Int?
        /// How UDP is served (``UDPEngine``): batched by default.
        public var udpEngine: UDPEngine
        /// Datagrams read per system call (1…1024).
        public var vectorReadMessageCount: Int
        /// Receive space per datagram. A query is rarely over 512 bytes; a longer one is cut
        /// and answered FORMERR. (NIO's default allocator is too small for vector reads.)
        public var receiveBytesPerMessage: Int
        /// The kernel's receive buffer for each UDP socket (SO_RCVBUF, capped by the host's
        /// `net.core.rmem_max`). The default of about 200 KiB holds only some 280 small
        /// queries, so a burst arriving while the loop is busy was dropped before the rate
        /// limiter could answer it TC; 1 MiB holds a few thousand.
        public var udpReceiveBufferBytes: Int
        public var tcp: Bool
        /// A TCP connection that sends no complete query for this long is closed.
        public var tcpIdleTimeout: TimeAmount
        /// Open TCP connections at once; one more is closed as soon as it is accepted.
        public var tcpMaxConnections: Int
        /// Open TCP connections from one address; more from it are closed at once, so one
        /// asker cannot take every slot.
        public var tcpMaxConnectionsPerClient: Int
        /// Response-rate limiting of UDP answers per source prefix (``DNSRateLimiter``).
        public var rateLimit: DNSRateLimiter.Configuration

        public init(host: String = "127.0.0.1", port: Int = 53, udpSockets: Int? = nil,
                    vectorReadMessageCount: Int = 64, receiveBytesPerMessage: Int = 2048,
                    udpReceiveBufferBytes: Int = 1 << 20, tcp: Bool = true,
                    tcpIdleTimeout: TimeAmount = .seconds(10), tcpMaxConnections: Int = 512,
                    tcpMaxConnectionsPerClient: Int = 32, rateLimit: DNSRateLimiter.Configuration = .init(),
                    udpEngine: UDPEngine = .batched) {
            self.host = host
            self.port = port
            self.udpSockets = udpSockets.map { min(max(1, $0), 256) }
            self.udpEngine = udpEngine
            self.vectorReadMessageCount = min(max(1, vectorReadMessageCount), 1024)
            self.receiveBytesPerMessage = min(max(512, receiveBytesPerMessage), 65535)
            self.udpReceiveBufferBytes = min(max(4096, udpReceiveBufferBytes), 64 << 20)
            self.tcp = tcp
            self.tcpIdleTimeout = tcpIdleTimeout
            self.tcpMaxConnections = max(1, tcpMaxConnections)
            self.tcpMaxConnectionsPerClient = max(1, tcpMaxConnectionsPerClient)
            self.rateLimit = rateLimit
        }
    }

    /// Where the server listens once started.
    public struct Endpoints: Sendable {
        public var udp: SocketAddress
        public var tcp: SocketAddress?
    }

    private struct LoopSlot: Sendable {
        let eventLoop: any EventLoop
        let slot: NIOLoopBound<ZoneSlot>
    }

    private struct State {
        var channels: [any Channel] = []
        var udpListener: DNSBatchedUDPListener?
        var connections: [ObjectIdentifier: any Channel] = [:]
        /// Open TCP connections per client address.
        var perClient: [[UInt8]: Int] = [:]
        /// TCP connections closed at accept for being over a limit (for rate-limited logs).
        var refusedConnections: UInt64 = 0
        var subscriptions: [UInt64] = []
        var endpoints: Endpoints?
        var stopped = false
    }

    public let configuration: Configuration
    private let responder: DNSResponder
    private let publisher: ZonePublisher
    private let forwarder: DNSForwarder?
    private let limiter: DNSRateLimiter?
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    public init(configuration: Configuration, responder: DNSResponder, publisher: ZonePublisher,
                forwarder: DNSForwarder? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.publisher = publisher
        self.forwarder = forwarder
        self.limiter = configuration.rateLimit.responsesPerSecond > 0 ? DNSRateLimiter(configuration: configuration.rateLimit) : nil
        self.group = group
        self.logger = logger
    }

    public var endpoints: Endpoints? { state.withLock { $0.endpoints } }

    /// Binds the sockets and starts answering.
    ///
    /// - Throws: when the port cannot be bound (in use, or below 1024 without privilege).
    @discardableResult
    public func start() async throws -> Endpoints {
        let slots = try await makeSlots()
        // With port 0 the kernel picks the UDP port; TCP may find it taken, so try a few times.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let endpoints = try await bind(slots: slots)
                logger.info("fleet-dns listening", metadata: [
                    "dns.udp": "\(endpoints.udp)", "dns.tcp": "\(endpoints.tcp.map { "\($0)" } ?? "off")",
                    "dns.udp_sockets": "\(configuration.udpSockets ?? slots.count)",
                ])
                return endpoints
            } catch {
                await close(closeAll(unsubscribe: false))
                let retry = (error as? IOError)?.errnoCode == EADDRINUSE && configuration.port == 0 && attempt < 5
                if !retry {
                    stop()
                    throw error
                }
            }
        }
    }

    /// Serves until graceful shutdown or cancellation, then closes every socket.
    public func run() async throws {
        try await start()
        let closed = state.withLock { $0.channels.map(\.closeFuture) + ($0.udpListener.map { [$0.closeFuture] } ?? []) }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await close(closed)
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        await close(closeAll(unsubscribe: true))
    }

    /// Closes the listening sockets and open TCP connections; answers nothing afterwards.
    public func stop() {
        _ = closeAll(unsubscribe: true)
    }

    /// ``stop()``, returning once every socket is closed.
    public func shutdown() async {
        await close(closeAll(unsubscribe: true))
    }

    private func close(_ futures: [EventLoopFuture<Void>]) async {
        for future in futures { try? await future.get() }
    }

    private func closeAll(unsubscribe: Bool) -> [EventLoopFuture<Void>] {
        let (channels, listener, tokens) = state.withLock { state in
            defer {
                state.channels = []
                state.udpListener = nil
                state.connections = [:]
                state.perClient = [:]
                if unsubscribe {
                    state.subscriptions = []
                    state.stopped = true
                }
            }
            return (state.channels + Array(state.connections.values), state.udpListener,
                    unsubscribe ? state.subscriptions : [])
        }
        for token in tokens { publisher.unsubscribe(token) }
        listener?.stop()
        return channels.map { channel in
            channel.close().flatMapErrorThrowing { _ in }  // already closed is fine
        } + (listener.map { [$0.closeFuture] } ?? [])
    }

    /// One ``ZoneSlot`` per event loop, each subscribed to the publisher: a new view is handed
    /// to the loop with `execute`, so the swap happens on the thread that reads it.
    private func makeSlots() async throws -> [LoopSlot] {
        var slots: [LoopSlot] = []
        for eventLoop in group.makeIterator() {
            let initial = publisher.current
            let slot = try await eventLoop.submit { NIOLoopBound(ZoneSlot(view: initial), eventLoop: eventLoop) }.get()
            let (current, token) = publisher.subscribe { view in
                eventLoop.execute { slot.value.offer(view) }
            }
            eventLoop.execute { slot.value.offer(current) }
            state.withLock { $0.subscriptions.append(token) }
            slots.append(LoopSlot(eventLoop: eventLoop, slot: slot))
        }
        return slots
    }

    private func bind(slots: [LoopSlot]) async throws -> Endpoints {
        let sockets = configuration.udpSockets ?? slots.count
        var port = configuration.port
        var udpAddress: SocketAddress?
        if configuration.udpEngine == .batched {
            let listener = DNSBatchedUDPListener(
                settings: .init(sockets: sockets, depth: configuration.vectorReadMessageCount,
                                receiveBytes: configuration.receiveBytesPerMessage,
                                receiveBufferBytes: configuration.udpReceiveBufferBytes),
                responder: responder, publisher: publisher, forwarder: forwarder, limiter: limiter, group: group)
            state.withLock { $0.udpListener = listener }
            let address = try listener.start(host: configuration.host, port: port)
            udpAddress = address
            port = address.port ?? port
        }
        for index in 0..<(configuration.udpEngine == .eventLoop ? max(1, sockets) : 0) {
            let loopSlot = slots[index % slots.count]
            let channel = try await udpBootstrap(loopSlot).bind(host: configuration.host, port: port).get()
            state.withLock { $0.channels.append(channel) }
            if udpAddress == nil {
                udpAddress = channel.localAddress
                port = channel.localAddress?.port ?? port
            }
        }
        var tcpAddress: SocketAddress?
        if configuration.tcp {
            let channel = try await tcpBootstrap(slots).bind(host: configuration.host, port: port).get()
            state.withLock { $0.channels.append(channel) }
            tcpAddress = channel.localAddress
        }
        let endpoints = Endpoints(udp: udpAddress!, tcp: tcpAddress)
        state.withLock { $0.endpoints = endpoints }
        return endpoints
    }

    private func udpBootstrap(_ loopSlot: LoopSlot) -> DatagramBootstrap {
        let responder = responder, forwarder = forwarder, limiter = limiter, logger = logger
        return DatagramBootstrap(group: loopSlot.eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(configuration.udpReceiveBufferBytes))
            .channelOption(.datagramVectorReadMessageCount, value: configuration.vectorReadMessageCount)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                capacity: configuration.vectorReadMessageCount * configuration.receiveBytesPerMessage))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = DNSUDPHandler(slot: loopSlot.slot.value, responder: responder, forwarder: forwarder,
                                                limiter: limiter, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
    }

    private func tcpBootstrap(_ slots: [LoopSlot]) -> ServerBootstrap {
        let responder = responder, forwarder = forwarder, idle = configuration.tcpIdleTimeout
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let self, let loopSlot = slots.first(where: { $0.eventLoop.inEventLoop }) else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    guard self.track(channel) else { throw ChannelError.ioOnClosedChannel }
                    // The idle timer sits after the framing, so it counts whole queries: a client
                    // trickling a byte at a time (slowloris) cannot hold its connection open.
                    let handlers: [any ChannelHandler] = [
                        ByteToMessageHandler(DNSTCPFrameDecoder()),
                        IdleStateHandler(readTimeout: idle),
                        DNSTCPHandler(slot: loopSlot.slot.value, responder: responder, forwarder: forwarder),
                    ]
                    try channel.pipeline.syncOperations.addHandlers(handlers)
                }
            }
    }

    /// Remembers a TCP connection so ``stop()`` can close it; false once stopped, or when the
    /// server or this client already has its maximum of connections open (then the caller
    /// closes it at once: a connection beyond the cap is never left waiting).
    private func track(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let client = channel.remoteAddress.flatMap(IPNetwork.addressBytes) ?? []
        let (accepted, refused) = state.withLock { state -> (Bool, UInt64) in
            guard !state.stopped else { return (false, 0) }
            guard state.connections.count < configuration.tcpMaxConnections,
                  state.perClient[client, default: 0] < configuration.tcpMaxConnectionsPerClient
            else {
                state.refusedConnections &+= 1
                return (false, state.refusedConnections)
            }
            state.connections[id] = channel
            state.perClient[client, default: 0] += 1
            return (true, 0)
        }
        if accepted {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLock { state in
                    guard state.connections.removeValue(forKey: id) != nil else { return }
                    let left = state.perClient[client, default: 1] - 1
                    state.perClient[client] = left > 0 ? left : nil
                }
            }
        } else if refused == 1 || refused % 1000 == 0 {
            logger.info("DNS TCP connection closed: over the connection limit", metadata: [
                "dns.tcp_max_connections": "\(configuration.tcpMaxConnections)",
                "dns.tcp_max_per_client": "\(configuration.tcpMaxConnectionsPerClient)", "dns.refused": "\(refused)",
            ])
        }
        return accepted
    }
}
