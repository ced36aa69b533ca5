@testable import FleetDNS
import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// What keeps fleet-dns from being abused, on real sockets: the UDP rate limit, forwarding only
/// for allowed askers, and the TCP listener's connection caps and idle timeout.
@Suite struct DNSServerLimitsTests {
    let logger = Logger(label: "test")

    /// Polls `probe` until it returns true; `deadline` is what fails the test, the pause only paces it.
    func eventually(within deadline: Duration = .seconds(10), _ what: String, _ probe: () throws -> Bool) async throws {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if try probe() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("not within \(deadline): \(what)")
    }

    func zone() -> ZonePublisher {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        return ZonePublisher(initial: builder.view())
    }

    @Test(arguments: DNSServer.UDPEngine.allCases)
    func aUDPFloodFromOnePrefixGetsItsBurstThenTCRepliesOrNothing(engine: DNSServer.UDPEngine) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Loopback is exempt by default; here it is the flooding prefix.
        let server = DNSServer(configuration: .init(port: 0, tcp: false,
                                                    rateLimit: .init(responsesPerSecond: 1, burst: 5, slip: 2, exempt: []),
                                                    udpEngine: engine),
                               responder: DNSResponder(), publisher: zone(), group: group, logger: logger)
        let port = try await server.start().udp.port!
        let collector = DatagramCollector()
        let client = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let started = ContinuousClock.now
        for id in 0..<30 {
            let query = ByteBuffer(bytes: DNSMessage.query("web.fleet.", .a, id: UInt16(id)).encoded())
            try await client.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: query)).get()
        }
        try await eventually("the burst and the slips arrive") { collector.replies.withLock { $0.count } >= 17 }
        // One more answer per second the flood took (a busy machine sends slowly): the refill.
        let refilled = Int((ContinuousClock.now - started).components.seconds) + 1
        let replies = try collector.replies.withLock { try $0.map { try DNSMessage(wire: $0) } }
        let answered = replies.filter { !$0.isTruncated && !$0.answers.isEmpty }
        let slipped = replies.filter { $0.isTruncated && $0.answers.isEmpty }
        #expect(answered.count >= 5 && answered.count <= 5 + refilled, "the burst, and the refill")
        #expect(slipped.count >= (30 - answered.count) / 2 - 1, "every second limited query gets TC")
        #expect(replies.count < 30, "the rest were dropped")
        try await client.close().get()
        await server.shutdown()
        try await group.shutdownGracefully()
    }

    /// A burst that arrives while the event loop is busy waits in the socket's receive buffer.
    /// With the kernel's default (about 280 small datagrams) most of 1,000 were dropped.
    @Test func aBurstArrivingWhileTheLoopIsBusyIsAllAnswered() async throws {
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = DNSServer(configuration: .init(port: 0, udpSockets: 1, tcp: false, udpEngine: .eventLoop),
                               responder: DNSResponder(), publisher: zone(), group: serverGroup, logger: logger)
        let port = try await server.start().udp.port!
        let collector = DatagramCollector()
        let client = try await DatagramBootstrap(group: clientGroup)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let busy = serverGroup.next().submit { usleep(500_000) }   // the server's only loop is busy meanwhile
        for id in 0..<1000 {
            let query = ByteBuffer(bytes: DNSMessage.query("web.fleet.", .a, id: UInt16(id)).encoded())
            let envelope = AddressedEnvelope(remoteAddress: target, data: query)
            if id % 50 == 49 { try await client.writeAndFlush(envelope).get() } else { client.write(envelope, promise: nil) }
        }
        _ = try await busy.get()
        try await eventually("all 1,000 queries answered (loopback is not rate-limited)") {
            Set(collector.replies.withLock { $0.map { UInt16($0[0]) << 8 | UInt16($0[1]) } }).count == 1000
        }
        try await client.close().get()
        await server.shutdown()
        try await clientGroup.shutdownGracefully()
        try await serverGroup.shutdownGracefully()
    }

    @Test(.enabled(if: Dig.isAvailable, "needs dig from dnsutils"), arguments: DNSServer.UDPEngine.allCases)
    func outsideNamesAreRefusedToAskersOutsideTheAllowedNetworks(engine: DNSServer.UDPEngine) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The upstream would answer; the asker (127.0.0.1) is simply not allowed to use it.
        let upstream = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let forwarder = DNSForwarder(upstreams: [upstream.localAddress!], timeout: .milliseconds(200),
                                     allowedClients: [IPNetwork("10.77.0.0/24")!])
        #expect(!forwarder.allows(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(forwarder.allows(try SocketAddress(ipAddress: "10.77.0.12", port: 1)))
        #expect(DNSForwarder(upstreams: []).allows(try SocketAddress(ipAddress: "::1", port: 1)), "loopback by default")
        let server = DNSServer(configuration: .init(port: 0, udpEngine: engine),
                               responder: DNSResponder(configuration: .init(forwarding: true)),
                               publisher: zone(), forwarder: forwarder, group: group, logger: logger)
        let dig = Dig(port: try await server.start().udp.port!)
        #expect(try await dig("example.com", "A").status == "REFUSED")
        #expect(try await dig("example.com", "A", "+tcp").status == "REFUSED")
        #expect(try await dig("web.fleet", "A").data("A") == ["10.0.0.1"], "the zone is answered to anyone")
        await server.shutdown()
        try await upstream.close().get()
        try await group.shutdownGracefully()
    }

    /// (total, per client): the per-client cap, then the server's own, each the one that bites.
    @Test(arguments: [(10, 2), (2, 100)])
    func tcpConnectionsBeyondTheCapsAreClosedAndIdleOnesTimeOut(total: Int, perClient: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let server = DNSServer(configuration: .init(port: 0, tcpIdleTimeout: .seconds(30), tcpMaxConnections: total,
                                                    tcpMaxConnectionsPerClient: perClient),
                               responder: DNSResponder(), publisher: zone(), group: group, logger: logger)
        let port = try await server.start().tcp!.port!
        try await shuttingDownOnFailure(server, group) {
            try await capsHold(port: port, group: group, total: total, perClient: perClient)
        }
        await server.shutdown()

        let idle = DNSServer(configuration: .init(port: 0, tcpIdleTimeout: .milliseconds(200)),
                             responder: DNSResponder(), publisher: zone(), group: group, logger: logger)
        let idlePort = try await idle.start().tcp!.port!
        try await shuttingDownOnFailure(idle, group) {
            try await idleConnectionsAreClosed(port: idlePort, group: group)
        }
        await idle.shutdown()
        try await group.shutdownGracefully()
    }

    /// Runs `body`; if it throws, shuts `server` and `group` down first: a failed wait is then a
    /// failed test, not a server dropped while running (NIO traps on its leaked promise, which
    /// ends every other test of the process too).
    func shuttingDownOnFailure(_ server: DNSServer, _ group: MultiThreadedEventLoopGroup,
                               _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await server.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
    }

    func capsHold(port: Int, group: MultiThreadedEventLoopGroup, total: Int, perClient: Int) async throws {
        func connect() async throws -> (any Channel, StreamCollector) {
            let collector = StreamCollector()
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return (channel, collector)
        }
        let three = [try await connect(), try await connect(), try await connect()]
        try await eventually("one of three connections is closed (cap \(total) in all, \(perClient) per client)") {
            three.filter { !$0.0.isActive }.count == 1
        }
        let open = three.filter { $0.0.isActive }
        #expect(open.count == 2)
        try await open[0].0.close().get()
        // A slot is free again: a new connection is served (the server notices the close soon
        // after; a connection made before that is closed, and the next one is tried).
        var served: (any Channel)?
        for _ in 0..<50 where served == nil {
            let (channel, collector) = try await connect()
            // The server may close a connection it cannot take yet before the query is written
            // ("I/O on closed channel"): that one is closed too; try the next.
            guard (try? await channel.writeAndFlush(Self.framedQuery()).get()) != nil else { continue }
            try await eventually(within: .seconds(20), "answered or closed") {
                collector.received.withLock { $0 } > 2 || !channel.isActive
            }
            if collector.received.withLock({ $0 }) > 2 { served = channel }
        }
        #expect(served != nil, "a freed slot lets a new connection in")
        for channel in [open[1].0, served].compactMap({ $0 }) { try? await channel.close().get() }
    }

    func idleConnectionsAreClosed(port idlePort: Int, group: MultiThreadedEventLoopGroup) async throws {
        let silent = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: idlePort).get()
        try await eventually("a connection that sends nothing is closed") { !silent.isActive }
        // A slowloris: a 500-byte message announced, then a byte every 50 ms (it would take 25 s).
        let trickle = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: idlePort).get()
        let partial: [UInt8] = [0x01, 0xF4] + [UInt8](repeating: 0, count: 498)
        let feeder = Task {
            for byte in partial where trickle.isActive && !Task.isCancelled {
                try? await trickle.writeAndFlush(ByteBuffer(bytes: [byte])).get()
                try? await Task.sleep(for: .milliseconds(50))   // the pace of the attack, not a wait for an event
            }
        }
        try await eventually(within: .seconds(5), "a connection that never completes a query is closed") { !trickle.isActive }
        feeder.cancel()
    }

    static func framedQuery() -> ByteBuffer {
        var framed = ByteBuffer()
        let query = DNSMessage.query("web.fleet.", .a).encoded()
        framed.writeInteger(UInt16(query.count))
        framed.writeBytes(query)
        return framed
    }
}

/// Every datagram a client socket receives.
final class DatagramCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let replies = Mutex<[[UInt8]]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data).data
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        replies.withLock { $0.append(bytes) }
    }
}

/// How many bytes a TCP client received.
final class StreamCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let received = Mutex(0)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = Self.unwrapInboundIn(data).readableBytes
        received.withLock { $0 += count }
    }
}
