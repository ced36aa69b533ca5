// etcd-bench: write throughput and watch wake-up latency of EtcdStore against a running etcd.
//
//   etcd-bench --endpoints http://127.0.0.1:12361 [--seconds 5] [--rounds 3] [--clients 64]
//              [--watch-samples 1000] [--value-bytes 64]
//
// Measures, each for --rounds rounds of --seconds (medians and ranges are printed):
//   1. one client doing `set` after `set` (each durable: etcd answers after its fsync);
//   2. --clients clients doing the same at once, one keep-alive connection each;
//   3. watch wake-up: one `set` at a time, from the put's acknowledgement (the `set` returning)
//      to the event arriving at a watcher on the same store, p50/p99 over --watch-samples puts.
// Keys go under a random prefix, removed at the end. Build with -c release: a debug client is
// several times slower and would measure itself, not etcd.
import FleetStore
import FleetStoreEtcd
import Foundation
import Synchronization

struct Options {
    var endpoints: [String] = []
    var seconds = 5.0
    var rounds = 3
    var clients = 64
    var watchSamples = 1000
    var valueBytes = 64

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            switch flag {
            case "--endpoints": endpoints = EtcdStore.Configuration.endpoints(fromList: value)
            case "--seconds": seconds = try Self.number(flag, value)
            case "--rounds": rounds = Int(try Self.number(flag, value))
            case "--clients": clients = Int(try Self.number(flag, value))
            case "--watch-samples": watchSamples = Int(try Self.number(flag, value))
            case "--value-bytes": valueBytes = Int(try Self.number(flag, value))
            default: throw UsageError("unknown option \(flag)")
            }
        }
        guard !endpoints.isEmpty else { throw UsageError("--endpoints is required") }
    }

    static func number(_ flag: String, _ value: String) throws -> Double {
        guard let number = Double(value), number > 0 else { throw UsageError("\(flag) takes a positive number") }
        return number
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message + "\nusage: etcd-bench --endpoints URL[,URL...] "
        + "[--seconds S] [--rounds N] [--clients N] [--watch-samples N] [--value-bytes N]" }
}

/// Sorted samples in milliseconds.
struct Samples {
    var values: [Double]
    init(_ values: [Double]) { self.values = values.sorted() }
    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        return values[min(values.count - 1, Int((Double(values.count) * p).rounded(.up)) - 1)]
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// Runs `clients` writers for `seconds`; returns writes per second and per-write latencies.
func writeRound(_ store: EtcdStore, clients: Int, seconds: Double, value: String, round: Int) async throws
    -> (rate: Double, latencies: [Double])
{
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    let start = ContinuousClock.now
    let perClient = try await withThrowingTaskGroup(of: [Double].self) { group in
        for client in 0..<clients {
            group.addTask {
                var latencies: [Double] = []
                var i = 0
                while ContinuousClock.now < deadline {
                    let began = ContinuousClock.now
                    try await store.set("/bench/\(round)/\(client)/\(i % 1000)", value)
                    latencies.append(milliseconds(ContinuousClock.now - began))
                    i += 1
                }
                return latencies
            }
        }
        return try await group.reduce(into: [[Double]]()) { $0.append($1) }
    }
    let elapsed = ContinuousClock.now - start
    let latencies = perClient.flatMap { $0 }
    return (Double(latencies.count) / (milliseconds(elapsed) / 1000), latencies)
}

/// One put at a time with a watcher on the same prefix; returns (ack → event, send → event) in ms.
func watchRound(_ store: EtcdStore, samples: Int, value: String) async throws -> (afterAck: [Double], afterSend: [Double]) {
    let arrivals = Mutex<[String: ContinuousClock.Instant]>([:])
    let (arrived, arrivedSink) = AsyncStream<Void>.makeStream()
    let events = try await store.watch("/latency", recursive: true, fromIndex: nil)
    // The watcher stamps each event the moment it is delivered, on its own task, so an event
    // that beats the put's acknowledgement is measured as early as it really was.
    let watcher = Task {
        for try await event in events {
            let now = ContinuousClock.now
            arrivals.withLock { $0[event.node.value ?? ""] = now }
            arrivedSink.yield()
        }
    }
    var afterAck: [Double] = [], afterSend: [Double] = []
    var signals = arrived.makeAsyncIterator()
    for i in 0..<samples {
        let tag = "\(i)-" + value
        let sent = ContinuousClock.now
        try await store.set("/latency/k", tag)
        let acknowledged = ContinuousClock.now
        while arrivals.withLock({ $0[tag] }) == nil { _ = await signals.next() }
        let at = arrivals.withLock { $0.removeValue(forKey: tag)! }
        afterAck.append(milliseconds(at - acknowledged))
        afterSend.append(milliseconds(at - sent))
    }
    watcher.cancel()
    arrivedSink.finish()
    return (afterAck, afterSend)
}

func median(_ values: [Double]) -> Double { Samples(values).percentile(0.5) }

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("etcd-bench: \(error)\n".utf8))
    exit(64)
}

let prefix = "/fleet-bench/\(UUID().uuidString.prefix(8))"
let store = try EtcdStore(configuration: .init(endpoints: options.endpoints, keyPrefix: prefix,
                                               connectionsPerEndpoint: max(16, options.clients)))
let value = String(repeating: "v", count: options.valueBytes)
print("etcd-bench: \(options.endpoints.joined(separator: ",")), \(options.rounds) rounds x \(options.seconds) s, "
    + "\(options.valueBytes)-byte values, prefix \(prefix)")
do {
    _ = try await writeRound(store, clients: 1, seconds: 1, value: value, round: 0)  // warm up connections
    _ = try await writeRound(store, clients: options.clients, seconds: 1, value: value, round: 0)

    for clients in [1, options.clients] {
        var rates: [Double] = [], latencies: [Double] = []
        for round in 1...options.rounds {
            let result = try await writeRound(store, clients: clients, seconds: options.seconds, value: value,
                                              round: round)
            rates.append(result.rate)
            latencies += result.latencies
        }
        let samples = Samples(latencies)
        print("writes, \(clients) client\(clients == 1 ? "" : "s"): \(format(median(rates), 0)) writes/s median "
            + "(rounds: \(rates.map { format($0, 0) }.joined(separator: ", "))); latency p50 "
            + "\(format(samples.percentile(0.5))) ms, p99 \(format(samples.percentile(0.99))) ms")
    }

    var afterAck: [Double] = [], afterSend: [Double] = []
    for _ in 1...options.rounds {
        let result = try await watchRound(store, samples: options.watchSamples, value: value)
        afterAck += result.afterAck
        afterSend += result.afterSend
    }
    let ack = Samples(afterAck), send = Samples(afterSend)
    let early = afterAck.filter { $0 < 0 }.count
    print("watch wake-up, put acknowledged -> event received: p50 \(format(ack.percentile(0.5))) ms, "
        + "p99 \(format(ack.percentile(0.99))) ms (\(afterAck.count) puts; \(early) events arrived before the ack)")
    print("watch wake-up, put sent -> event received: p50 \(format(send.percentile(0.5))) ms, "
        + "p99 \(format(send.percentile(0.99))) ms")
} catch {
    FileHandle.standardError.write(Data("etcd-bench: \(error)\n".utf8))
}
try? await store.deleteIfPresent("/bench")
try? await store.deleteIfPresent("/latency")
await store.shutdown()
