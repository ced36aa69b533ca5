import FleetDNS
import FleetDiscovery
import Foundation

/// What one service's burst costs the zone: `instances` of one service registered one at a time
/// on three machines (as `fleetctl start` of that many instances does), a view taken after each,
/// then removed one at a time the same way. Each view re-encodes the names the change touched,
/// and the service's own names hold every instance, so the worst case is quadratic.
///
/// usage: DNSPropagationBench build [instances] [rounds]
enum ZoneBuildBench {
    static func run(instances: Int, rounds: Int) {
        let records = (0..<instances).map { i in
            DiscoveryRecord(service: "bench", instance: "r1-\(i)", unit: "bench@r1-\(i).service",
                            machineID: "m\(i % 3)", machineName: "node\(i % 3)", address: "10.77.0.\(11 + i % 3)")
        }
        let keys = records.map { "/discovery/bench/\($0.instance)" }
        for round in 1...rounds {
            var builder = ZoneBuilder(settings: ZoneSettings())
            var views = 0
            var published: ZoneView?  // held as the publisher holds it, so the next change copies what it shares
            let start = ContinuousClock.now
            for (key, record) in zip(keys, records) {
                builder.upsert(record, key: key)
                published = builder.view()
                views &+= Int((published?.generation ?? 0) % 2)
            }
            let added = ContinuousClock.now
            for key in keys {
                builder.remove(key: key)
                published = builder.view()
                views &+= Int((published?.generation ?? 0) % 2)
            }
            let removed = ContinuousClock.now
            print("round \(round): \(instances) instances added one view each: \(milliseconds(added - start)) ms "
                  + "(\(microseconds((added - start) / instances)) µs a view); removed: \(milliseconds(removed - added)) ms [\(views)]")
        }
    }

    static func milliseconds(_ d: Duration) -> String { String(format: "%.1f", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3) }
    static func microseconds(_ d: Duration) -> String { String(format: "%.0f", Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6) }
}
