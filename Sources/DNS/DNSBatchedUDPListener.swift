import Dispatch
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#else
import Darwin
#endif

/// fleet-dns's UDP side: `sockets` sockets on one port (SO_REUSEPORT, so the kernel spreads
/// askers over them), each served by a ``DNSDatagramLoop`` on a thread of its own.
///
/// Why not SwiftNIO here, when TCP and everything else use it: per query, NIO's datagram path
/// runs some 20k instructions and 4–5 allocations; a loop over `recvmmsg`/`sendmmsg` with
/// buffers made once runs a few thousand and none (`../shared/reference/dns-speed.md`,
/// `docs/benchmarks.md`). An idle thread sleeps in `recvmmsg`, so the listener costs nothing idle.
final class DNSBatchedUDPListener: Sendable {
    struct Settings: Sendable {
        var sockets: Int
        var depth: Int
        var receiveBytes: Int
        var receiveBufferBytes: Int
    }

    private struct Running {
        var sockets: [DNSDatagramSocket]
        var pool: NIOThreadPool
        var stop: DNSDatagramStop
        var subscription: UInt64
    }

    private let settings: Settings
    private let responder: DNSResponder
    private let publisher: ZonePublisher
    private let forwarder: DNSForwarder?
    private let limiter: DNSRateLimiter?
    private let group: any EventLoopGroup
    private enum Phase {
        case idle
        /// Binding; a stop meanwhile is carried out by ``start(host:port:)`` when it is done.
        case starting
        case running(Running)
        case stopped
    }

    private let phase = Mutex(Phase.idle)
    private let stopped: EventLoopPromise<Void>

    init(settings: Settings, responder: DNSResponder, publisher: ZonePublisher, forwarder: DNSForwarder?,
         limiter: DNSRateLimiter?, group: any EventLoopGroup) {
        self.settings = settings
        self.responder = responder
        self.publisher = publisher
        self.forwarder = forwarder
        self.limiter = limiter
        self.group = group
        stopped = group.next().makePromise()
    }

    /// Completes once ``stop()`` has closed every socket.
    var closeFuture: EventLoopFuture<Void> { stopped.futureResult }

    /// Binds the sockets (port 0 picks one for all of them) and starts their threads.
    func start(host: String, port: Int) throws -> SocketAddress {
        try phase.withLock { phase in
            guard case .idle = phase else { throw ChannelError.ioOnClosedChannel }
            phase = .starting
        }
        do {
            return try bindAndRun(host: host, port: port)
        } catch {
            // Whether or not stop() came meanwhile, it left completing to this call.
            phase.withLock { $0 = .stopped }
            stopped.succeed()
            throw error
        }
    }

    private func bindAndRun(host: String, port: Int) throws -> SocketAddress {
        var address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        var sockets: [DNSDatagramSocket] = []
        do {
            for _ in 0..<max(1, settings.sockets) {
                let socket = try DNSDatagramSocket(binding: address, receiveBufferBytes: settings.receiveBufferBytes)
                sockets.append(socket)
                if let bound = socket.localAddress.port { address.port = bound }
            }
        } catch {
            for socket in sockets { socket.close() }
            throw error
        }
        let stop = DNSDatagramStop()
        let zone = ZoneCell(publisher.current)
        let (current, subscription) = publisher.subscribe { zone.offer($0) }
        zone.offer(current)
        let pool = NIOThreadPool(numberOfThreads: sockets.count)
        pool.start()
        let loopSettings = DNSDatagramLoop.Settings(
            depth: settings.depth, receiveBytes: settings.receiveBytes,
            replyBytes: max(512, Int(responder.configuration.ednsPayloadSize)))
        for socket in sockets {
            let relay = forwarder.map { DNSDatagramRelay(forwarder: $0, eventLoop: group.next()) }
            let loop = DNSDatagramLoop(socket: socket, settings: loopSettings, zone: zone, responder: responder,
                                       limiter: limiter, relay: relay)
            pool.submit { _ in loop.run(until: stop) }
        }
        let started = Running(sockets: sockets, pool: pool, stop: stop, subscription: subscription)
        let stoppedMeanwhile = phase.withLock { phase -> Bool in
            guard case .starting = phase else { return true }
            phase = .running(started)
            return false
        }
        if stoppedMeanwhile { shut(started) }
        return address
    }

    /// Stops every thread, and once they have all returned closes the sockets and completes
    /// ``closeFuture``. Safe to call more than once, and before ``start(host:port:)``.
    func stop() {
        let previous = phase.withLock { phase -> Phase in
            defer { phase = .stopped }
            return phase
        }
        switch previous {
        case .idle: stopped.succeed()
        case .starting, .stopped: break
        case let .running(running): shut(running)
        }
    }

    private func shut(_ running: Running) {
        publisher.unsubscribe(running.subscription)
        running.stop.set()
        for socket in running.sockets { socket.shutdownReceiving() }
        running.pool.shutdownGracefully(queue: .global()) { [stopped] _ in
            for socket in running.sockets { socket.close() }
            stopped.succeed()
        }
    }
}
