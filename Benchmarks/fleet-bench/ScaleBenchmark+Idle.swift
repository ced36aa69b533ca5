import FleetRegistry
import FleetStore
import Synchronization

extension ScaleBenchmark {
    /// The idle window: nothing asked of the cluster for `seconds`, so what the store's index
    /// advances by is what staying alive costs. A watch of fleet's whole tree splits that into
    /// writes that publish an event (by key kind and action) and the rest, which publish none
    /// (TTL refreshes: the presence, the unit states). Counted from the index, the figure stays
    /// true however agents publish their states.
    static func idle(registry: Registry, seconds: Int, machines: Int) async throws {
        let store = registry.store
        let prefix = registry.keys.prefix
        let events = try await store.watch(prefix, recursive: true, fromIndex: nil)
        let seen = Mutex<[(index: UInt64, kind: String)]>([])
        let counter = Task {
            do {
                for try await event in events {
                    let kind = kind(of: event.node.key, under: prefix) + " " + event.action.rawValue
                    seen.withLock { $0.append((event.index, kind)) }
                }
            } catch {}
        }
        let indexStart = try await store.currentIndex()
        let usageBefore = ProcessUsage.now()
        let start = clock.now
        try await Task.sleep(for: .seconds(seconds))  // the measured window itself
        let indexEnd = try await store.currentIndex()
        let elapsed = clock.now - start
        let usage = ProcessUsage.now()
        counter.cancel()
        await counter.value
        var kinds: [String: Int] = [:]
        for (index, kind) in seen.withLock({ $0 }) where index > indexStart && index <= indexEnd { kinds[kind, default: 0] += 1 }
        let writes = indexEnd - indexStart
        let published = kinds.values.reduce(0, +)
        let perMachine = Double(writes) / max(elapsed.seconds, 0.001) / Double(machines)
        report("idle \(Self.seconds(elapsed)): \(writes) index advance, \(rate(writes, elapsed))/s"
            + " (\(String(format: "%.2f", perMachine)) per machine per s); CPU \(cpuShare(usageBefore, usage, elapsed)); \(usage.summary)")
        let breakdown = kinds.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }
        report("idle writes with an event: \(published) (\(breakdown.isEmpty ? "none" : breakdown.joined(separator: ", ")));"
            + " without one (TTL refreshes): \(Int(writes) - published)")
    }

    /// `/fleet/states/a.service/m` → `states`: the first component under fleet's prefix.
    static func kind(of key: String, under prefix: String) -> String {
        guard key.hasPrefix(prefix + "/") else { return "other" }
        return key.dropFirst(prefix.count + 1).split(separator: "/").first.map(String.init) ?? "other"
    }
}
