/// `fleet-bench scale [MACHINES] [UNITS] [--ttl S] [--etcd URL[,URL...]] [--dir PATH] [--idle S]
/// [--samples N] [--timeout S]`, parsed with every number bounded, so a typo ends in a usage
/// message rather than a run that cannot finish.
struct ScaleOptions: Sendable {
    var machines = 1000
    var units = 10_000
    /// The agents' presence and unit-state TTL (fleet's `agent_ttl`); 10 s as dev-cluster runs it.
    var ttl: Int64 = 10
    /// etcd client URLs; nil for the embedded store.
    var etcd: [String]?
    /// Where the embedded store's file goes: a real disk (fsync counts), not a tmpfs.
    var directory = "/var/tmp"
    /// How long the idle window after all units are active lasts, in seconds.
    var idleSeconds = 10
    /// Watch fan-out samples.
    var samples = 50
    /// The whole run ends with a failure after this many seconds, whatever it is waiting for.
    var timeoutSeconds = 240
    /// Unit creations in flight at once (fleetctl and the API send 48 at a time).
    var concurrency = 48

    static let usage = "usage: fleet-bench scale [MACHINES] [UNITS] [--ttl S] [--etcd URL[,URL...]] [--dir PATH] "
        + "[--idle S] [--samples N] [--timeout S]"

    init(_ arguments: [String]) throws {
        var positional: [Int] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else {
                positional.append(try Self.number(argument, "MACHINES/UNITS", 0...1_000_000))
                continue
            }
            guard let value = rest.popFirst() else { throw ScaleBenchmarkError(.usage, "\(argument) needs a value") }
            switch argument {
            case "--ttl": ttl = Int64(try Self.number(value, argument, 2...3600))
            case "--etcd": etcd = value.split(separator: ",").map(String.init)
            case "--dir": directory = value
            case "--idle": idleSeconds = try Self.number(value, argument, 0...600)
            case "--samples": samples = try Self.number(value, argument, 0...10_000)
            case "--timeout": timeoutSeconds = try Self.number(value, argument, 10...3600)
            default: throw ScaleBenchmarkError(.usage, "unknown option \(argument)")
            }
        }
        guard positional.count <= 2 else { throw ScaleBenchmarkError(.usage, "at most two numbers: MACHINES and UNITS") }
        if let machines = positional.first { self.machines = machines }
        if positional.count == 2 { units = positional[1] }
        // The unit mix asks for 4 regions and ssd (machine 0 of every 4): fewer machines leave units unplaceable.
        guard machines >= 8 else { throw ScaleBenchmarkError(.usage, "MACHINES must be at least 8 (the units need 4 regions, and one machine is lost)") }
        guard units >= 1 else { throw ScaleBenchmarkError(.usage, "UNITS must be at least 1") }
        if let etcd, etcd.isEmpty { throw ScaleBenchmarkError(.usage, "--etcd needs at least one URL") }
    }

    static func number(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw ScaleBenchmarkError(.usage, "\(name): \(text) is not a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

/// Why the scale benchmark stopped without a result.
struct ScaleBenchmarkError: Error, CustomStringConvertible {
    enum Code: Sendable { case usage, timedOut, setup, storeFailed }
    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String {
        switch code {
        case .usage: "\(message)\n\(ScaleOptions.usage)"
        case .timedOut: "scale benchmark FAILED (timed out): \(message)"
        case .setup: "scale benchmark could not start: \(message)"
        case .storeFailed: "scale benchmark FAILED (the store refused or did not answer): \(message)"
        }
    }
}
