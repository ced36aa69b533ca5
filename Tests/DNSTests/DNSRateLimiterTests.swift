@testable import FleetDNS
import NIOCore
import Testing

/// Response-rate limiting as a pure function of source and time: no sockets, no clock.
@Suite struct DNSRateLimiterTests {
    let second: UInt64 = 1_000_000_000

    func address(_ text: String) throws -> SocketAddress { try SocketAddress(ipAddress: text, port: 5353) }

    func limiter(rate: Int = 10, burst: Int? = nil, slip: Int = 2, maxPrefixes: Int = 100,
                 exempt: [IPNetwork] = IPNetwork.loopback) -> DNSRateLimiter {
        DNSRateLimiter(configuration: .init(responsesPerSecond: rate, burst: burst, slip: slip, maxPrefixes: maxPrefixes,
                                            exempt: exempt))
    }

    @Test func aFloodGetsItsBurstThenEveryOtherQueryAnEmptyTCReply() throws {
        let rrl = limiter(rate: 10)
        let source = try address("198.51.100.7")
        let verdicts = (0..<30).map { _ in rrl.admit(source, now: 5 * second) }
        #expect(verdicts.prefix(10).allSatisfy { $0 == .answer })
        #expect(Array(verdicts.dropFirst(10)) == (0..<20).map { $0 % 2 == 1 ? DNSRateLimiter.Verdict.slip : .drop })
    }

    @Test func theBucketRefillsAtTheRate() throws {
        let rrl = limiter(rate: 10, burst: 1, slip: 0)
        let source = try address("198.51.100.7")
        #expect(rrl.admit(source, now: second) == .answer)
        #expect(rrl.admit(source, now: second + second / 20) == .drop, "50 ms later: not yet")
        #expect(rrl.admit(source, now: second + second / 10) == .answer, "100 ms later: one more")
        // A steady 10 per second is never limited.
        for tick in 2...50 { #expect(rrl.admit(source, now: second + UInt64(tick) * second / 10) == .answer) }
    }

    @Test func sourcesAreCountedPerPrefix() throws {
        let rrl = limiter(rate: 1, slip: 0)
        #expect(rrl.admit(try address("203.0.113.1"), now: second) == .answer)
        #expect(rrl.admit(try address("203.0.113.250"), now: second) == .drop, "same /24")
        #expect(rrl.admit(try address("203.0.114.1"), now: second) == .answer, "another /24")
        #expect(rrl.admit(try address("::ffff:203.0.113.9"), now: second) == .drop, "IPv4-mapped is the IPv4 /24")
        #expect(rrl.admit(try address("2001:db8:0:100::1"), now: second) == .answer)
        #expect(rrl.admit(try address("2001:db8:0:1ff::2"), now: second) == .drop, "same /56")
        #expect(rrl.admit(try address("2001:db8:0:200::1"), now: second) == .answer, "another /56")
    }

    @Test func loopbackAndExemptNetworksAreNeverLimited() throws {
        let rrl = limiter(rate: 1, slip: 0, exempt: IPNetwork.loopback + [IPNetwork("10.77.0.0/24")!])
        for _ in 0..<100 {
            #expect(rrl.admit(try address("127.0.0.1"), now: second) == .answer)
            #expect(rrl.admit(try address("::1"), now: second) == .answer)
            #expect(rrl.admit(try address("10.77.0.12"), now: second) == .answer)
        }
        #expect(rrl.trackedPrefixes == 0)
        #expect(limiter(rate: 0).admit(try address("198.51.100.1"), now: second) == .answer, "0 turns it off")
    }

    @Test func theTableIsBoundedAndNewPrefixesShareOneBucketWhenItIsFull() throws {
        let rrl = limiter(rate: 1, slip: 0, maxPrefixes: 4)
        for i in 0..<4 { #expect(rrl.admit(try address("192.0.\(i).1"), now: second) == .answer) }
        #expect(rrl.trackedPrefixes == 4)
        // Every tracked bucket is still draining: a flood from many prefixes shares the overflow.
        #expect(rrl.admit(try address("192.0.100.1"), now: second) == .answer)
        for i in 101..<1000 { #expect(rrl.admit(try address("192.0.\(i % 256).9"), now: second) == .drop) }
        #expect(rrl.trackedPrefixes == 4)
        // Two seconds on, every bucket is full again: they are swept and a new prefix gets its own.
        #expect(rrl.admit(try address("192.0.200.1"), now: 3 * second) == .answer)
        #expect(rrl.trackedPrefixes == 1)
    }
}

@Suite struct IPNetworkTests {
    @Test func parsesAndMatches() throws {
        let network = try #require(IPNetwork("10.77.0.99/24"))
        #expect(network.description == "10.77.0.0/24")
        #expect(network.contains(try SocketAddress(ipAddress: "10.77.0.200", port: 1)))
        #expect(!network.contains(try SocketAddress(ipAddress: "10.77.1.1", port: 1)))
        #expect(network.contains(try SocketAddress(ipAddress: "::ffff:10.77.0.5", port: 1)))
        let v6 = try #require(IPNetwork("fd00::/8"))
        #expect(v6.contains(try SocketAddress(ipAddress: "fd12:3456::1", port: 1)))
        #expect(!v6.contains(try SocketAddress(ipAddress: "fe80::1", port: 1)))
        #expect(IPNetwork("192.0.2.1")?.prefixLength == 32)
        #expect(IPNetwork("0.0.0.0/0")!.contains(try SocketAddress(ipAddress: "8.8.8.8", port: 1)))
    }

    @Test(arguments: ["", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/99999999999999999999999",
                      "10.0.0.0/", "web.fleet/24", "10.0.0/24", "/24"])
    func refusesWhatIsNotANetwork(_ text: String) {
        #expect(IPNetwork(text) == nil)
    }
}
