import ArgumentParser
import FleetDiscovery
import FleetStore
import Foundation

/// Reads every record under `/discovery`, optionally only one service's.
func discoveryRecords(_ store: any KeyValueStore, service: String? = nil) async throws -> [DiscoveryRecord] {
    let key = service.map(DiscoveryKeys.standard.service) ?? DiscoveryKeys.standard.root
    guard let root = try await store.getIfPresent(key, recursive: true) else { return [] }
    return root.leaves.compactMap { $0.value.flatMap(DiscoveryRecord.decode) }
        .sorted { ($0.service, $0.instance) < ($1.service, $1.instance) }
}

struct ListServices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-services",
        abstract: "List the services running in the cluster, as discovery sees them.",
        discussion: "Example: fleetctl list-services --no-legend")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Omit the header row.") var noLegend = false

    func run() async throws {
        let records: [DiscoveryRecord]
        do {
            records = try await discoveryRecords(try global.client().store())
        } catch {
            Terminal.error("Error retrieving services from fleet API: \(error)")
            throw ExitCode.failure
        }
        let rows = Dictionary(grouping: records, by: \.service).sorted { $0.key < $1.key }.map { service, instances in
            let healthy = instances.filter(\.healthy).count
            let machines = Set(instances.map(\.machineName)).sorted().map { $0 + "..." }.joined(separator: ",")
            let ports = Set(instances.flatMap { $0.ports.map { "\($0.port)/\($0.proto)" } }).sorted().joined(separator: ",")
            return [service, String(instances.count), machines, ports.isEmpty ? "-" : ports, "\(healthy)/\(instances.count)"]
        }
        Terminal.out(TableWriter.render((noLegend ? [] : [["SERVICE", "INSTANCES", "MACHINES", "PORTS", "HEALTHY"]]) + rows))
    }
}

struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Show where a service's instances run; with --watch, follow changes.",
        discussion: """
        Examples:
          fleetctl discover web            # INSTANCE ADDRESS PORTS MACHINE HEALTH
          fleetctl discover web --watch    # then one line per change, until interrupted
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Keep running and print each change.") var watch = false
    @Argument(help: "Service name, e.g. web for web@1.service.") var service: String

    func run() async throws {
        let store = try global.client().store()
        let records: [DiscoveryRecord]
        do {
            records = try await discoveryRecords(store, service: service)
        } catch {
            Terminal.error("Error retrieving service \(service) from fleet API: \(error)")
            throw ExitCode.failure
        }
        let rows = records.map { record in
            [record.instance, record.address,
             record.ports.isEmpty ? "-" : record.ports.map { "\($0.port)/\($0.proto)" }.joined(separator: ","),
             record.machineName + "...", record.healthy ? "healthy" : "unhealthy"]
        }
        Terminal.out(TableWriter.render([["INSTANCE", "ADDRESS", "PORTS", "MACHINE", "HEALTH"]] + rows))
        guard watch else {
            if records.isEmpty { Terminal.error("No instances of service \(service) are registered") }
            return
        }
        try await follow(store, from: records)
    }

    /// Prints one line per change until interrupted. The follower re-reads after an outage or a
    /// compacted history; what differs from what was printed is then printed as changes, so
    /// the output stays one line per change whatever happened to the connection.
    func follow(_ store: any KeyValueStore, from records: [DiscoveryRecord]) async throws {
        var shown = Dictionary(records.map { (DiscoveryKeys.standard.record(of: $0), $0) },
                               uniquingKeysWith: { _, last in last })
        for await change in store.follow(DiscoveryKeys.standard.service(service), recursive: true) {
            switch change {
            case let .snapshot(root, _):
                var now: [String: DiscoveryRecord] = [:]
                for leaf in root?.leaves ?? [] {
                    if let record = leaf.value.flatMap(DiscoveryRecord.decode) { now[leaf.key] = record }
                }
                for key in shown.keys.sorted() where now[key] == nil { Self.printRemoval("delete", key) }
                for (key, record) in now.sorted(by: { $0.key < $1.key }) where shown[key] != record {
                    Self.printChange("set", key, record)
                }
                shown = now
            case let .event(event):
                let key = event.node.key
                if event.isRemoval {
                    Self.printRemoval(event.action.rawValue, key)
                    shown = shown.filter { !StoreKey.isWithin($0.key, key) }
                } else if let record = event.node.value.flatMap(DiscoveryRecord.decode) {
                    Self.printChange(event.action.rawValue, key, record)
                    shown[key] = record
                }
            case let .lost(error):
                Terminal.error("Watch of service \(service) lost: \(error); retrying")
            case .restored:
                Terminal.error("Watch of service \(service) restored")
            }
        }
    }

    static func printRemoval(_ action: String, _ key: String) {
        printLine("\(action) \(StoreKey.basename(of: key))")
    }

    /// One change per line, flushed at once: `--watch` feeds pipes and files (block-buffered
    /// by default), where a change would otherwise show up only kilobytes later.
    static func printLine(_ line: String) {
        print(line)
        fflush(nil)  // all output streams: naming stdout is not concurrency-safe in Swift 6
    }

    static func printChange(_ action: String, _ key: String, _ record: DiscoveryRecord) {
        printLine("\(action) \(StoreKey.basename(of: key)) \(record.address) \(record.healthy ? "healthy" : "unhealthy")")
    }
}

struct Announce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce",
        abstract: "Register a service instance by hand and keep it registered until interrupted.",
        discussion: """
        For sidekick units whose port is known only at run time. The record is refreshed every
        third of --ttl and removed when fleetctl is stopped (SIGINT/SIGTERM); if fleetctl dies,
        it expires after --ttl seconds. Scripts can do the same with a plain HTTP PUT with a TTL.
        Example: fleetctl announce web --port 8080 --address 10.0.0.5 --ttl 10
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Port (repeatable): 8080, 53/udp or http:8080/tcp.") var port: [String] = []
    @Option(help: "Address clients connect to (default: this host's first non-loopback IPv4).") var address: String?
    @Option(help: "Instance name (default: this host's name).") var instance: String?
    @Option(help: "Seconds the record lives without a refresh.") var ttl: Int64 = 30
    @Argument(help: "Service name.") var service: String

    func validate() throws {
        guard ttl >= 2 else { throw ValidationError("--ttl must be at least 2 seconds") }
        guard !service.isEmpty, !service.contains("/") else { throw ValidationError("service name must be non-empty and contain no '/'") }
    }

    func run() async throws {
        let ports = try port.map { text -> DiscoveryRecord.Port in
            guard let parsed = DiscoverySpec.port(text) else { throw ValidationError("--port \(text): expected PORT, PORT/udp or NAME:PORT/tcp") }
            return parsed
        }
        let host = ProcessInfo.processInfo.hostName
        let name = instance ?? host
        let record = DiscoveryRecord(service: service, instance: name, unit: nil, machineID: host, machineName: host,
                                     address: address ?? HostAddress.firstIPv4() ?? "127.0.0.1", ports: ports)
        let store = try global.client().store()
        let key = DiscoveryKeys.standard.record(ServiceInstance(service: service, instance: name))
        // Signals are caught before the record exists: an interrupt that arrives between the
        // first write and the handlers would otherwise be ignored and leave announce running.
        let (signals, stop) = AsyncStream<Void>.makeStream()
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { stop.yield() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await store.set(key, record.encoded(), ttl: ttl)
        } catch {
            Terminal.error("Error announcing \(service): \(error)")
            throw ExitCode.failure
        }
        Terminal.error("Announced \(name).\(service) at \(record.address); refreshing every \(max(1, ttl / 3))s until interrupted")
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(max(1, ttl / 3)))
                    if Task.isCancelled { return }
                    do {
                        try await store.refresh(key, ttl: ttl)
                    } catch {
                        _ = try? await store.set(key, record.encoded(), ttl: ttl)  // expired meanwhile: put it back
                    }
                }
            }
            for await _ in signals { break }
            group.cancelAll()
        }
        try? await store.deleteIfPresent(key, recursive: false)
        Terminal.error("Withdrew \(name).\(service)")
    }
}
