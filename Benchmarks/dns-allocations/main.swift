// dns-allocations: heap allocations per UDP query, counted through a real socket.
//
// Starts a DNSServer on 127.0.0.1 with one UDP socket and the chosen engine, asks it a mix of
// queries (answers, SRV, NXDOMAIN, EDNS, a malformed one) from a plain socket in this process,
// and counts every malloc in the process while it does (ordo-one's malloc-interposer, which
// must be preloaded: the tool re-runs itself with LD_PRELOAD set when it is not). The client
// side allocates nothing itself, so the count is the server's: its UDP path, the event loops
// and anything else awake meanwhile.
//
//   dns-allocations [--engine batched|event-loop] [--rate-limited] [--queries N] [--max-per-query X]
// Exits 1 when allocations per query exceed --max-per-query (default 0 for batched: none).

import FleetDNS
import FleetDiscovery
import Foundation
import Logging
import MallocInterposerSwift
import NIOCore
import NIOPosix

struct Options {
    var engine = DNSServer.UDPEngine.batched
    var queries = 20_000
    var maxPerQuery: Double?
    /// Loopback is exempt from the rate limit by default; this takes it through the limiter's table.
    var rateLimited = false

    init(_ arguments: [String]) throws {
        var rest = arguments.makeIterator()
        while let argument = rest.next() {
            switch argument {
            case "--engine":
                guard let value = rest.next(), let engine = DNSServer.UDPEngine(rawValue: value) else {
                    throw UsageError("--engine takes batched or event-loop")
                }
                self.engine = engine
            case "--queries":
                guard let value = rest.next().flatMap(Int.init), (100...10_000_000).contains(value) else {
                    throw UsageError("--queries takes 100…10000000")
                }
                queries = value
            case "--rate-limited":
                rateLimited = true
            case "--max-per-query":
                guard let value = rest.next().flatMap(Double.init), value >= 0 else {
                    throw UsageError("--max-per-query takes a number ≥ 0")
                }
                maxPerQuery = value
            default:
                throw UsageError("unknown argument \(argument)")
            }
        }
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Kept alive so the optimiser cannot drop the probe allocation.
nonisolated(unsafe) var probe: [Int] = []

/// True when malloc really goes through the interposer (it was preloaded).
func interposerIsActive() -> Bool {
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.reset()
    MallocInterposerSwift.hook()
    probe = [Int](repeating: 1, count: 64)
    MallocInterposerSwift.unhook()
    return MallocInterposerSwift.getStatistics().mallocCount > 0
}

/// Re-runs this program with the interposer preloaded; returns only if that cannot be done.
func rerunPreloaded() {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let library = executable.deletingLastPathComponent().appendingPathComponent("libMallocInterposerSwift.so").path
    guard ProcessInfo.processInfo.environment["LD_PRELOAD"] == nil, FileManager.default.fileExists(atPath: library) else {
        return
    }
    setenv("LD_PRELOAD", library, 1)
    let argv = CommandLine.arguments.map { strdup($0) } + [nil]
    execv(executable.path, argv)
}

/// The queries asked in turn: a mix of what a resolver asks, each as wire bytes.
func queryMix() -> [[UInt8]] {
    func query(_ name: String, _ type: DNSRecordType, id: UInt16, edns: Bool = false) -> [UInt8] {
        DNSMessage.query(DNSName(name)!, type, id: id, edns: edns ? DNSEDNS() : nil).encoded()
    }
    return [
        query("web.fleet.", .a, id: 1), query("1.web.fleet.", .a, id: 2, edns: true),
        query("_web._tcp.fleet.", .srv, id: 3), query("_web._tcp.fleet.", .srv, id: 4, edns: true),
        query("missing.fleet.", .a, id: 5), query("web.fleet.", .aaaa, id: 6),
        query("node2.machine.fleet.", .a, id: 7), [0x12, 0x34, 0x01, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0],
    ]
}

/// Sends `count` queries from `mix` in windows of `window`, reading every reply; no allocation.
func ask(socket: Int32, mix: [[UInt8]], count: Int, window: Int, reply: UnsafeMutableRawBufferPointer) throws -> Int {
    var answered = 0, sent = 0
    while sent < count {
        let burst = min(window, count - sent)
        for index in 0..<burst {
            let query = mix[(sent + index) % mix.count]
            let written = query.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            guard written == query.count else { throw UsageError("send failed: errno \(errno)") }
        }
        sent += burst
        for _ in 0..<burst {
            let length = recv(socket, reply.baseAddress, reply.count, 0)
            guard length > 0 else { throw UsageError("no reply within 2 s (errno \(errno)); \(answered) answered") }
            answered += 1
        }
    }
    return answered
}

func connectedClient(to port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw UsageError("socket: errno \(errno)") }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
    let connected = address.withSockAddr { connect(descriptor, $0, socklen_t($1)) }
    guard connected == 0 else { throw UsageError("connect: errno \(errno)") }
    return descriptor
}

func zone() -> ZonePublisher {
    var builder = ZoneBuilder()
    for index in 1...5 {
        let record = DiscoveryRecord(
            service: "web", instance: "\(index)", unit: "web@\(index).service", machineID: "m\(index)",
            machineName: "node\(index)", address: "10.0.0.\(index)", ports: [.init(port: 8080, proto: "tcp", name: "http")],
            metadata: [:], healthy: true, answerTTL: 5, since: Date(timeIntervalSince1970: 1_700_000_000))
        _ = builder.upsert(record, key: "/discovery/web/\(index)")
    }
    return ZonePublisher(initial: builder.view())
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("dns-allocations: \(error)\n".utf8))
    exit(2)
}
if !interposerIsActive() {
    rerunPreloaded()
    FileHandle.standardError.write(Data("dns-allocations: malloc is not interposed; run with LD_PRELOAD=<bin>/libMallocInterposerSwift.so\n".utf8))
    exit(2)
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
let rateLimit = options.rateLimited ? DNSRateLimiter.Configuration(responsesPerSecond: 1_000_000, exempt: [])
                                    : DNSRateLimiter.Configuration()
let server = DNSServer(configuration: .init(host: "127.0.0.1", port: 0, udpSockets: 1, tcp: false, rateLimit: rateLimit,
                                            udpEngine: options.engine),
                       responder: DNSResponder(), publisher: zone(), group: group,
                       logger: { var logger = Logger(label: "dns-allocations"); logger.logLevel = .warning; return logger }())
let port = try await server.start().udp.port ?? 0
let client = try connectedClient(to: port)
let mix = queryMix()
let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

// Warm up first: the first queries fill caches and grow tables once; the steady state is what counts.
_ = try ask(socket: client, mix: mix, count: 2_000, window: 16, reply: reply)
MallocInterposerSwift.reset()
MallocInterposerSwift.hook()
let answered = try ask(socket: client, mix: mix, count: options.queries, window: 16, reply: reply)
MallocInterposerSwift.unhook()
let statistics = MallocInterposerSwift.getStatistics()

close(client)
await server.shutdown()
try await group.shutdownGracefully()

let perQuery = Double(statistics.mallocCount) / Double(max(1, answered))
print("dns-allocations: engine \(options.engine.rawValue)\(options.rateLimited ? ", rate-limited" : ""): \(answered) queries answered, "
    + "\(statistics.mallocCount) allocations (\(String(format: "%.3f", perQuery)) per query, "
    + "\(statistics.mallocBytesCount) bytes)")
let limit = options.maxPerQuery ?? (options.engine == .batched ? 0 : .infinity)
if perQuery > limit {
    print("dns-allocations: FAILED: more than \(limit) allocations per query")
    exit(1)
}
