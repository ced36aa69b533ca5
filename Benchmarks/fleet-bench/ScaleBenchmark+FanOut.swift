import FleetRegistry
import FleetStore
import Foundation

extension ScaleBenchmark {
    /// Watch fan-out, by a proxy: with every agent's watch of its `schedule/<machine>/` open (and
    /// the engine's of the whole tree), rewrite one existing assignment of a sampled machine with
    /// its own value (no change for fleet: that agent runs one pass that finds nothing to do) and
    /// time until a watcher of that machine's `schedule/<machine>/`, opened like the agent's,
    /// receives the event. The agent's own reaction happens inside its stand-in and is not timed.
    static func fanOut(registry: Registry, machines: [MachineID], samples: Int, deadline: ContinuousClock.Instant) async throws {
        var acknowledged: [Duration] = []
        var delivered: [Duration] = []
        for sample in 0..<samples {
            let machine = machines[(sample * 7919 + 1) % machines.count]
            guard let (unit, assignment) = try await registry.assignments(machine).min(by: { $0.key < $1.key }) else { continue }
            let key = registry.keys.assignment(machine, unit)
            let events = try await registry.store.watch(registry.keys.schedule(machine), recursive: true,
                                                        fromIndex: try await registry.store.currentIndex() + 1)
            var iterator = events.makeAsyncIterator()
            // The first rewrite makes sure the watch is live (an etcd watch opens in the background).
            try await registry.setAssignment(machine, unit, assignment)
            guard try await nextEvent(for: key, from: &iterator, deadline: deadline) else {
                throw ScaleBenchmarkError(.timedOut, "fan-out: no event for \(key) within the time limit (--timeout)")
            }
            let start = clock.now
            try await registry.setAssignment(machine, unit, assignment)
            acknowledged.append(clock.now - start)
            guard try await nextEvent(for: key, from: &iterator, deadline: deadline) else {
                throw ScaleBenchmarkError(.timedOut, "fan-out: no event for \(key) within the time limit (--timeout)")
            }
            delivered.append(clock.now - start)
        }
        report("watch fan-out proxy (\(delivered.count) samples, \(machines.count) agent watches open):"
            + " write sent → acknowledged p50 \(milliseconds(acknowledged, 0.5)) / p99 \(milliseconds(acknowledged, 0.99)),"
            + " → event at a watcher of that machine's schedule/ p50 \(milliseconds(delivered, 0.5)) / p99 \(milliseconds(delivered, 0.99))")
    }

    /// Reads events until one for `key`; false when the stream ended or the deadline passed.
    static func nextEvent(for key: String, from iterator: inout AsyncThrowingStream<StoreEvent, any Error>.Iterator,
                          deadline: ContinuousClock.Instant) async throws -> Bool {
        while clock.now < deadline {
            guard let event = try await iterator.next() else { return false }
            if event.node.key == key { return true }
        }
        return false
    }

    static func milliseconds(_ samples: [Duration], _ quantile: Double) -> String {
        guard !samples.isEmpty else { return "-" }
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * quantile).rounded()))
        return String(format: "%.2f ms", sorted[index].seconds * 1000)
    }
}
