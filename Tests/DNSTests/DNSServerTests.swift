@testable import FleetDNS
import FleetStore
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOTestUtils
import Testing

@Suite struct DNSServerTests {
    let logger = Logger(label: "test")

    /// Polls `probe` until it returns true or `deadline` passes; the pause between tries only
    /// paces the polling, the deadline is what fails the test.
    func eventually(within deadline: Duration = .seconds(10), _ what: String,
                    _ probe: () async throws -> Bool) async throws {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end {
            if try await probe() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("not within \(deadline): \(what)")
    }

    @Test(.enabled(if: Dig.isAvailable, "needs dig from dnsutils"), arguments: DNSServer.UDPEngine.allCases)
    func digAgainstAServerFedByTheStore(engine: DNSServer.UDPEngine) async throws {
        let store = InMemoryStore()
        let publisher = ZonePublisher(apex: "fleet.")
        let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let server = DNSServer(configuration: .init(host: "127.0.0.1", port: 0, udpEngine: engine), responder: DNSResponder(),
                               publisher: publisher, group: group, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await feed.run() }
            let endpoints = try await server.start()
            #expect(endpoints.tcp?.port == endpoints.udp.port)
            let dig = Dig(port: endpoints.udp.port!)

            for record in Fixture.webInstances(40) + [
                Fixture.record("api", "1", machine: "m1", address: "10.1.0.1", ports: [.init(port: 7000)]),
                Fixture.record("api", "2", machine: "m2", address: "10.1.0.2", ports: [.init(port: 7000)]),
            ] {
                try await store.set(Fixture.key(record), record.encoded())
            }
            try await eventually("api.fleet answers") { try await dig("api.fleet", "A").data("A").count == 2 }

            let a = try await dig("api.fleet", "A")
            #expect(a.status == "NOERROR" && a.flags.contains("aa"))
            #expect(Set(a.data("A")) == ["10.1.0.1", "10.1.0.2"])

            let srv = try await dig("_api._tcp.fleet", "SRV")
            #expect(Set(srv.data("SRV")) == ["1 1 7000 m1.machine.fleet.", "1 1 7000 m2.machine.fleet."])
            #expect(Set(srv.additional.filter { $0.count > 4 && $0[3] == "A" }.map { "\($0[0]) \($0[4])" })
                    == ["m1.machine.fleet. 10.1.0.1", "m2.machine.fleet. 10.1.0.2"])

            // 40 addresses do not fit in 512 bytes: TC over UDP (dig must not retry over TCP)...
            let udp = try await dig("web.fleet", "A", "+noedns", "+notcp", "+ignore")
            #expect(udp.flags.contains("tc"))
            #expect(udp.data("A").count < 40)
            // ...the whole answer over TCP...
            let tcp = try await dig("web.fleet", "A", "+tcp", "+noedns")
            #expect(!tcp.flags.contains("tc") && tcp.data("A").count == 40)
            // ...and over UDP when the asker's EDNS buffer is large enough.
            let big = try await dig("web.fleet", "A", "+bufsize=4096", "+notcp", "+ignore")
            #expect(!big.flags.contains("tc") && big.data("A").count == 40)

            #expect(try await dig("nope.fleet", "A").status == "NXDOMAIN")
            #expect(try await dig("example.com", "A").status == "REFUSED")

            // A removed record leaves the answers.
            try await store.delete("/discovery/api/1")
            try await eventually("api/1 leaves api.fleet") { try await dig("api.fleet", "A").data("A") == ["10.1.0.2"] }
            #expect(try await dig("1.api.fleet", "A").status == "NXDOMAIN")
            #expect(try await dig("_api._tcp.fleet", "SRV").data("SRV") == ["1 1 7000 m2.machine.fleet."])

            await server.shutdown()
            tasks.cancelAll()
        }
        try await group.shutdownGracefully()
    }

    @Test(.enabled(if: Dig.isAvailable, "needs dig from dnsutils"), arguments: DNSServer.UDPEngine.allCases)
    func outsideNamesAreRelayedToTheFirstUpstreamThatAnswers(engine: DNSServer.UDPEngine) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The "upstream": another fleet-dns serving zone upstream.
        var upstreamZone = ZoneBuilder(settings: ZoneSettings(apex: "upstream."))
        upstreamZone.upsert(Fixture.record("far", "1", address: "192.0.2.7"), key: "/discovery/far/1")
        let upstream = DNSServer(configuration: .init(port: 0, tcp: false), responder: DNSResponder(),
                                 publisher: ZonePublisher(initial: upstreamZone.view()), group: group, logger: logger)
        let upstreamPort = try await upstream.start().udp.port!
        // A silent one first (bound, never answering), so the relay must time out and move on.
        let silent = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()

        var local = ZoneBuilder()
        local.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        let forwarder = DNSForwarder(upstreams: [silent.localAddress!, try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)],
                                     timeout: .milliseconds(200))
        let server = DNSServer(configuration: .init(port: 0, udpEngine: engine),
                               responder: DNSResponder(configuration: .init(forwarding: true)),
                               publisher: ZonePublisher(initial: local.view()), forwarder: forwarder, group: group,
                               logger: logger)
        let dig = Dig(port: try await server.start().udp.port!)

        let relayed = try await dig("far.upstream", "A")
        #expect(relayed.status == "NOERROR" && relayed.data("A") == ["192.0.2.7"])
        let relayedOverTCP = try await dig("far.upstream", "A", "+tcp")
        #expect(relayedOverTCP.data("A") == ["192.0.2.7"])
        #expect(try await dig("web.fleet", "A").data("A") == ["10.0.0.1"], "the zone is still answered locally")

        await upstream.shutdown()
        let failed = try await dig("far.upstream", "A")
        #expect(failed.status == "SERVFAIL", "no upstream answered")

        await server.shutdown()
        try await silent.close().get()
        try await group.shutdownGracefully()
    }

    @Test func tcpFramingSplitsAndJoinsMessages() throws {
        let channel = EmbeddedChannel()
        let first = ByteBuffer(bytes: DNSMessage.query("web.fleet.", .a).encoded())
        let second = ByteBuffer(bytes: DNSMessage.query("db.fleet.", .srv, id: 7).encoded())
        func framed(_ message: ByteBuffer) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt16(message.readableBytes))
            buffer.writeImmutableBuffer(message)
            return buffer
        }
        var both = framed(first)
        both.writeImmutableBuffer(framed(second))
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(both, [first, second])],
            decoderFactory: { DNSTCPFrameDecoder() })
        _ = try channel.finish()
    }

    @Test func tcpConnectionsAnswerPipelinedQueries() throws {
        var builder = ZoneBuilder()
        builder.upsert(Fixture.record("web", "1"), key: "/discovery/web/1")
        let channel = EmbeddedChannel()
        let slot = ZoneSlot(view: builder.view())
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(DNSTCPFrameDecoder()),
            DNSTCPHandler(slot: slot, responder: DNSResponder(), forwarder: nil),
        ])
        var input = ByteBuffer()
        for (id, name) in [(1, "web.fleet."), (2, "nope.fleet.")] as [(UInt16, DNSName)] {
            let query = DNSMessage.query(name, .a, id: id).encoded()
            input.writeInteger(UInt16(query.count))
            input.writeBytes(query)
        }
        // Arrives in two pieces that split the first message.
        try channel.writeInbound(input.getSlice(at: 0, length: 5)!)
        try channel.writeInbound(input.getSlice(at: 5, length: input.readableBytes - 5)!)
        var replies: [DNSMessage] = []
        while var reply = try channel.readOutbound(as: ByteBuffer.self) {
            let length = Int(reply.readInteger(as: UInt16.self)!)
            #expect(length == reply.readableBytes)
            replies.append(try DNSMessage(wire: reply.readBytes(length: length)!))
        }
        #expect(replies.map(\.id) == [1, 2])
        #expect(replies.map(\.rcode) == [.noError, .nameError])
        _ = try channel.finish()
    }
}
