// store-bench: durable writes/s with 1 and 64 concurrent clients, and watch wake-up latency,
// for the EmbeddedStore (a file under --dir) and the InMemoryStore.
//
//   store-bench [--dir /var/tmp] [--seconds 5] [--samples 2000] [--clients 64]
//
// Each client awaits its own write before starting the next, as a fleet agent does. Latency:
// a watcher waits on one key; a setter sets it, notes when `set` returned (acknowledged), and
// waits for the watcher to see the event before the next set, so samples never queue up.
import FleetStore
import FleetStoreEmbedded
import Foundation
import Synchronization

struct Options {
    var directory = "/var/tmp"
    var seconds = 5.0
    var samples = 2000
    var clients = 64

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { usage() }
            switch flag {
            case "--dir": directory = value
            case "--seconds": seconds = Double(value) ?? { usage() }()
            case "--samples": samples = Int(value) ?? { usage() }()
            case "--clients": clients = Int(value) ?? { usage() }()
            default: usage()
            }
        }
    }

    func usage() -> Never {
        FileHandle.standardError.write(Data("usage: store-bench [--dir DIR] [--seconds S] [--samples N] [--clients N]\n".utf8))
        exit(64)
    }
}

func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Writes per second with `clients` tasks, each awaiting its own write before the next.
func writesPerSecond(_ store: any KeyValueStore, clients: Int, seconds: Double) async throws -> Double {
    let deadline = nanoseconds() + UInt64(seconds * 1e9)
    let start = nanoseconds()
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for client in 0..<clients {
            group.addTask {
                var count = 0
                while nanoseconds() < deadline {
                    try await store.set("/bench/c\(client)", String(count))
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    return Double(total) / (Double(nanoseconds() - start) / 1e9)
}

struct Latency {
    var ackToWatcher: [Double]  // milliseconds, signed: the event may reach the watcher first
    var startToWatcher: [Double]
}

/// Set-acknowledged-to-watcher latency over `samples` sequential sets.
func watchLatency(_ store: any KeyValueStore, samples: Int) async throws -> Latency {
    let stream = try await store.watch("/bench/watch", recursive: false, fromIndex: nil)
    let (received, sink) = AsyncStream<(UInt64, UInt64)>.makeStream()
    return try await withThrowingTaskGroup(of: Latency?.self) { group in
        group.addTask {
            for try await event in stream { sink.yield((event.index, nanoseconds())) }
            return nil
        }
        group.addTask {
            var arrivals = received.makeAsyncIterator()
            var latency = Latency(ackToWatcher: [], startToWatcher: [])
            for sample in 0..<samples {
                let start = nanoseconds()
                let event = try await store.set("/bench/watch", String(sample))
                let acknowledged = nanoseconds()
                while let (index, at) = await arrivals.next() {
                    guard index == event.index else { continue }
                    latency.ackToWatcher.append((Double(at) - Double(acknowledged)) / 1e6)
                    latency.startToWatcher.append((Double(at) - Double(start)) / 1e6)
                    break
                }
            }
            return latency
        }
        let result = try await group.next()!!
        group.cancelAll()
        return result
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func format(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }

func bench(_ name: String, _ store: any KeyValueStore, options: Options) async throws {
    // Warm up first: a new file grows its WAL (appends cost more than overwrites on ext4) and
    // the first commits pay for creating tables and pages.
    _ = try await writesPerSecond(store, clients: options.clients, seconds: 1)
    let one = try await writesPerSecond(store, clients: 1, seconds: options.seconds)
    let many = try await writesPerSecond(store, clients: options.clients, seconds: options.seconds)
    let latency = try await watchLatency(store, samples: options.samples)
    print("\(name): writes/s 1 client \(format(one, 0)), \(options.clients) clients \(format(many, 0)) "
          + "(x\(format(many / one, 1)))")
    print("\(name): watch wake-up after ack: p50 \(format(percentile(latency.ackToWatcher, 0.5))) ms, "
          + "p99 \(format(percentile(latency.ackToWatcher, 0.99))) ms; "
          + "set start to watcher: p50 \(format(percentile(latency.startToWatcher, 0.5))) ms, "
          + "p99 \(format(percentile(latency.startToWatcher, 0.99))) ms, "
          + "mean \(format(latency.startToWatcher.reduce(0, +) / Double(latency.startToWatcher.count))) ms "
          + "(\(options.samples) samples)")
}

let options = Options(CommandLine.arguments)
let path = "\(options.directory)/store-bench-\(getpid()).db"
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
print("store-bench: \(options.seconds) s per write run, embedded store at \(path)")
let embedded = try EmbeddedStore(path: path)
try await bench("embedded", embedded, options: options)
await embedded.close()
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
try await bench("in-memory", InMemoryStore(), options: options)
