import FleetDNS
import FleetDiscovery
import FleetStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

// How long a change in the store takes to reach the answers, in process.
//
// The path measured is the production one: InMemoryStore write -> watch event -> ZoneFeed
// applies it to the ZoneBuilder -> ZonePublisher -> `execute` onto an event loop (as
// DNSServer's sockets receive views) -> the responder, run on that loop over the view it just
// received, answers the new name (or NXDOMAIN after a delete). Timing starts before the write.
//
// usage: DNSPropagationBench [writes] [background-records]
//        DNSPropagationBench build [instances] [rounds]   (ZoneBuildBench: one service's burst)

if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "build" {
    let arguments = CommandLine.arguments
    ZoneBuildBench.run(instances: arguments.count > 2 ? Int(arguments[2]) ?? 200 : 200,
                       rounds: arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3)
    exit(0)
}

let writes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 500 : 500
let background = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 200 : 200

/// Watches views as an event loop receives them and reports when the armed query is answered
/// the way it waits for.
final class Probe: Sendable {
    struct Target {
        var query: [UInt8]
        var present: Bool
    }

    private let target = Mutex<Target?>(nil)
    private let responder = DNSResponder()
    let reached: AsyncStream<ContinuousClock.Instant>
    private let continuation: AsyncStream<ContinuousClock.Instant>.Continuation

    init() {
        (reached, continuation) = AsyncStream.makeStream()
    }

    func arm(_ name: DNSName, present: Bool) {
        target.withLock { $0 = Target(query: DNSMessage.query(name, .a).encoded(), present: present) }
    }

    /// Runs on the event loop for every view delivered there.
    func offer(_ view: ZoneView) {
        let now = ContinuousClock.now
        let met = target.withLock { target -> Bool in
            guard let armed = target, let reply = responder.respond(to: armed.query, zone: view),
                  let message = try? DNSMessage(wire: reply)
            else { return false }
            let answered = message.rcode == .noError && !message.answers.isEmpty
            guard answered == armed.present else { return false }
            target = nil
            return true
        }
        if met { continuation.yield(now) }
    }
}

/// Sixteen machines. With `ownAddresses` every instance has an address of its own (containers
/// with their own IPs), so each write also changes its machine's A records and with them the
/// additional section of every SRV answer naming that machine; otherwise instances use their
/// machine's address, the common case.
func record(_ service: String, _ instance: Int, ownAddresses: Bool) -> DiscoveryRecord {
    DiscoveryRecord(service: service, instance: "\(instance)", unit: "\(service)@\(instance).service",
                    machineID: "m\(instance % 16)", machineName: "node\(instance % 16)",
                    address: ownAddresses ? "10.\(instance / 65536 % 256).\(instance / 256 % 256).\(instance % 256)"
                        : "10.255.0.\(instance % 16)",
                    ports: [.init(port: 8080, proto: "tcp", name: "http")], metadata: ["v": "1"])
}

func percentiles(_ samples: [Duration]) -> String {
    let micros = samples.map { Double($0.components.attoseconds) / 1e12 + Double($0.components.seconds) * 1e6 }.sorted()
    func at(_ p: Double) -> String { String(format: "%.0f", micros[min(micros.count - 1, Int(Double(micros.count) * p))]) }
    let mean = micros.reduce(0, +) / Double(micros.count)
    return "n=\(micros.count) p50=\(at(0.5)) µs p90=\(at(0.9)) µs p99=\(at(0.99)) µs max=\(String(format: "%.0f", micros.last!)) µs mean=\(String(format: "%.0f", mean)) µs"
}

func measure(ownAddresses: Bool) async throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let store = InMemoryStore()
    for i in 0..<background {
        let r = record("bg\(i % 20)", 100_000 + i, ownAddresses: ownAddresses)
        try await store.set(DiscoveryKeys.standard.record(of: r), r.encoded())
    }
    let publisher = ZonePublisher(apex: "fleet.")
    let feed = ZoneFeed(store: store, settings: ZoneSettings(), publisher: publisher, logger: logger)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let loop = group.next()
    let probe = Probe()
    _ = publisher.subscribe { view in loop.execute { probe.offer(view) } }

    let feedTask = Task { try await feed.run() }
    var iterator = probe.reached.makeAsyncIterator()
    probe.arm("bg0.fleet.", present: true)
    _ = await iterator.next()  // the initial load has reached the loop

    var added: [Duration] = []
    var removed: [Duration] = []
    for i in 0..<writes {
        let r = record("svc\(i % 20)", i, ownAddresses: ownAddresses)
        let key = DiscoveryKeys.standard.record(of: r)
        probe.arm(DNSName("\(i).svc\(i % 20).fleet.")!, present: true)
        let start = ContinuousClock.now
        try await store.set(key, r.encoded())
        added.append(await iterator.next()! - start)
    }
    for i in 0..<writes {
        let key = DiscoveryKeys.standard.record(ServiceInstance(service: "svc\(i % 20)", instance: "\(i)"))
        probe.arm(DNSName("\(i).svc\(i % 20).fleet.")!, present: false)
        let start = ContinuousClock.now
        try await store.delete(key)
        removed.append(await iterator.next()! - start)
    }
    print(ownAddresses ? "instances with addresses of their own:" : "instances sharing their machine's address:")
    print("  store write -> answered:  \(percentiles(added))")
    print("  store delete -> NXDOMAIN: \(percentiles(removed))")
    print("  (\(background) background records in 20 services; writes spread over 20 services of up to \(writes / 20) instances)")
    feedTask.cancel()
    try await group.shutdownGracefully()
}

try await measure(ownAddresses: false)
try await measure(ownAddresses: true)
