@testable import FleetDNS
import Glibc
import Logging
import NIOCore
import NIOPosix
import Testing

/// The batched UDP listener (one thread per socket over recvmmsg/sendmmsg) and the
/// allocation-free reply path it uses. What both engines share is tested on both in
/// DNSServerTests and DNSServerLimitsTests.
@Suite struct DNSBatchedUDPTests {
    let logger = Logger(label: "test")

    func zone() -> ZoneView {
        Fixture.zone(Fixture.webInstances(60) + [Fixture.record("api", "1", ports: [.init(port: 7000)])])
    }

    /// Queries of every kind the responder tells apart, as wire bytes.
    func corpus() -> [[UInt8]] {
        var queries: [[UInt8]] = [
            DNSMessage.query("api.fleet.", .a).encoded(),
            DNSMessage.query("API.Fleet.", .a, id: 7).encoded(),
            DNSMessage.query("_api._tcp.fleet.", .srv, edns: DNSEDNS()).encoded(),
            DNSMessage.query("web.fleet.", .a).encoded(),  // 60 addresses: cut to 512 bytes over UDP
            DNSMessage.query("web.fleet.", .a, edns: DNSEDNS(udpPayloadSize: 4096)).encoded(),
            DNSMessage.query("1.api.fleet.", .any).encoded(),
            DNSMessage.query("missing.fleet.", .a, edns: DNSEDNS(dnssecOK: true)).encoded(),
            DNSMessage.query("api.fleet.", .aaaa).encoded(),
            DNSMessage.query("example.com.", .a).encoded(),
            DNSMessage.query("api.fleet.", .a, edns: DNSEDNS(version: 1)).encoded(),
            [0x12, 0x34, 0x01, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0],  // two questions: FORMERR
        ]
        var notify = DNSMessage.query("api.fleet.", .soa)
        notify.opcode = DNSOpcode(rawValue: 4)
        queries.append(notify.encoded())
        // The question's name compressed (a pointer to a name after the header): rare but legal.
        var compressed: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
        compressed += [0xC0, 18, 0x00, 0x01, 0x00, 0x01]
        compressed += [3] + Array("api".utf8) + [5] + Array("fleet".utf8) + [0]
        queries.append(compressed)
        return queries
    }

    @Test(arguments: [DNSResponder.Transport.udp, .tcp])
    func repliesWrittenIntoPreparedMemoryMatchByteBufferReplies(transport: DNSResponder.Transport) throws {
        let zone = zone()
        let responder = DNSResponder()
        for (index, query) in corpus().enumerated() {
            let raw = try #require(responder.respond(to: query, zone: zone, transport: transport, variant: index),
                                   "query \(index) is answered")
            let buffered = query.withUnsafeBytes {
                responder.respond(to: $0, zone: zone, transport: transport, variant: index, allocator: ByteBufferAllocator())
            }
            guard case var .reply(buffer) = buffered else {
                Issue.record("query \(index): no ByteBuffer reply")
                continue
            }
            #expect(buffer.readBytes(length: buffer.readableBytes) == raw, "query \(index)")
        }
    }

    @Test func aReplyThatDoesNotFitItsRoomIsDroppedNotWrittenPastIt() {
        let query = DNSMessage.query("_api._tcp.fleet.", .srv).encoded()
        var memory = [UInt8](repeating: 0xEE, count: 256)
        let outcome = query.withUnsafeBytes { query in
            memory.withUnsafeMutableBytes { memory in
                DNSResponder().respond(to: query, zone: zone(), transport: .udp, variant: 0,
                                       into: UnsafeMutableRawBufferPointer(rebasing: memory[0..<40]))
            }
        }
        #expect(outcome == .drop)
        #expect(memory[40...].allSatisfy { $0 == 0xEE }, "nothing written past the room")
        let error = query.withUnsafeBytes { query in
            memory.withUnsafeMutableBytes { memory in
                DNSResponder().errorReply(to: query, rcode: .serverFailure, transport: .udp,
                                          into: UnsafeMutableRawBufferPointer(rebasing: memory[0..<10]))
            }
        }
        #expect(error == nil)
    }

    @Test func addressesReadFromDatagramsMatchTheirNetworks() throws {
        let mapped = try #require(PackedIPAddress(try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 53)))
        let plain = try #require(PackedIPAddress(try SocketAddress(ipAddress: "10.1.2.3", port: 53)))
        #expect(mapped == plain, "an IPv4-mapped IPv6 asker is its IPv4 address")
        #expect(IPNetwork("10.1.0.0/16")!.contains(mapped))
        #expect(!IPNetwork("10.2.0.0/16")!.contains(plain))
        #expect(IPNetwork("10.1.2.3")!.contains(plain) && !IPNetwork("10.1.2.4")!.contains(plain))
        let v6 = try #require(PackedIPAddress(try SocketAddress(ipAddress: "fd00:1:2:3::9", port: 53)))
        #expect(v6.length == 16)
        #expect(IPNetwork("fd00:1:2::/48")!.contains(v6) && !IPNetwork("fd00:1:3::/48")!.contains(v6))
        #expect(!IPNetwork("0.0.0.0/0")!.contains(v6) && !IPNetwork("::/0")!.contains(plain), "families never mix")
        #expect(DNSRateLimiter.prefixKey(plain) == DNSRateLimiter.prefixKey(
            try #require(PackedIPAddress(try SocketAddress(ipAddress: "10.1.2.200", port: 1)))), "one /24")
        #expect(DNSRateLimiter.prefixKey(v6) == DNSRateLimiter.prefixKey(
            try #require(PackedIPAddress(try SocketAddress(ipAddress: "fd00:1:2:3:ffff::1", port: 1)))), "one /56")
        #expect(DNSRateLimiter.prefixKey(v6) != DNSRateLimiter.prefixKey(
            try #require(PackedIPAddress(try SocketAddress(ipAddress: "fd00:1:2:100::1", port: 1)))))

        // Read from a sockaddr as recvmmsg fills it in; a short length is refused.
        var storage = sockaddr_storage()
        try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 53).withSockAddr { pointer, length in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: length)) }
        }
        #expect(PackedIPAddress(&storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size)) == plain)
        #expect(PackedIPAddress(&storage, length: 8) == nil)
    }

    /// Stopping wakes threads blocked in recvmmsg and closes every socket: the port can then be
    /// bound by a socket without SO_REUSEPORT, which any socket still open would refuse.
    @Test func stoppingWakesIdleThreadsAndClosesEverySocket() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = DNSServer(configuration: .init(port: 0, udpSockets: 3, tcp: false),
                               responder: DNSResponder(), publisher: ZonePublisher(initial: zone()),
                               group: group, logger: logger)
        let port = try #require(try await server.start().udp.port)
        #expect(try Self.ask(port: port, DNSMessage.query("api.fleet.", .a)).answers.count == 1)
        let started = ContinuousClock.now
        await server.shutdown()
        // Well under the 30 s receive timeout (a busy test run can take a second or two to stop the threads).
        #expect(ContinuousClock.now - started < .seconds(10), "stopped when asked, not at the 30 s receive timeout")
        let probe = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(probe) }
        let bound = try SocketAddress(ipAddress: "127.0.0.1", port: port).withSockAddr { bind(probe, $0, socklen_t($1)) }
        #expect(bound == 0, "the port is free again (errno \(errno))")
        try await group.shutdownGracefully()
    }

    /// run() serves until cancelled, with UDP only (no NIO channel to wait on), and returns.
    @Test func runReturnsWhenCancelled() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = DNSServer(configuration: .init(port: 0, tcp: false), responder: DNSResponder(),
                               publisher: ZonePublisher(initial: zone()), group: group, logger: logger)
        let running = Task { try await server.run() }
        let port = try await Self.waitForEndpoint(server)
        #expect(try Self.ask(port: port, DNSMessage.query("api.fleet.", .a)).answers.count == 1)
        running.cancel()
        try await running.value
        try await group.shutdownGracefully()
    }

    /// A burst far larger than one recvmmsg batch is all answered, with the zone swapped meanwhile.
    @Test func aBurstOfAThousandIsAllAnsweredWhileTheZoneChanges() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let publisher = ZonePublisher(initial: zone())
        let server = DNSServer(configuration: .init(port: 0, udpSockets: 1, tcp: false),
                               responder: DNSResponder(), publisher: publisher, group: group, logger: logger)
        let port = try #require(try await server.start().udp.port)
        let client = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(client) }
        var big: Int32 = 4 << 20
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = try SocketAddress(ipAddress: "127.0.0.1", port: port).withSockAddr { connect(client, $0, socklen_t($1)) }
        try #require(connected == 0)
        for id in 0..<1000 {
            let query = DNSMessage.query("api.fleet.", .a, id: UInt16(id)).encoded()
            #expect(query.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) } == query.count)
            if id == 500 { publisher.publish(Fixture.zone([Fixture.record("api", "1", address: "10.9.9.9")], settings: ZoneSettings(serial: 43))) }
        }
        var ids = Set<UInt16>()
        var reply = [UInt8](repeating: 0, count: 2048)
        while ids.count < 1000 {
            let length = reply.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard length >= 2 else { break }  // the 5 s receive timeout: fails below
            ids.insert(UInt16(reply[0]) << 8 | UInt16(reply[1]))
        }
        #expect(ids.count == 1000, "every query of the burst answered")
        await server.shutdown()
        try await group.shutdownGracefully()
    }

    static func waitForEndpoint(_ server: DNSServer) async throws -> Int {
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end {
            if let port = server.endpoints?.udp.port { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw DNSTestTimeout()
    }

    /// One query over UDP from a plain socket, waiting up to 5 s for the reply.
    static func ask(port: Int, _ query: DNSMessage) throws -> DNSMessage {
        let client = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(client) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = try SocketAddress(ipAddress: "127.0.0.1", port: port).withSockAddr { connect(client, $0, socklen_t($1)) }
        guard connected == 0 else { throw DNSTestTimeout() }
        let bytes = query.encoded()
        _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) }
        var reply = [UInt8](repeating: 0, count: 65536)
        let length = reply.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
        guard length > 0 else { throw DNSTestTimeout() }
        return try DNSMessage(wire: Array(reply[0..<length]))
    }
}

struct DNSTestTimeout: Error {}
