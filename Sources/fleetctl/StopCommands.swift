import ArgumentParser
import FleetAPIClient
import FleetUnit

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop units; they stay placed and loaded.",
        discussion: "Example: fleetctl stop web@1.service")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var block: BlockOptions
    @Argument(help: "Unit names.") var units: [String] = []

    func run() async throws {
        let client = try global.client()
        let found = try await registryUnits(units, client: client)
        guard !found.isEmpty else { Terminal.error("Units not found in registry"); return }
        var toStop: [String] = []
        for unit in found {
            switch unit.current {
            case .inactive?:
                Terminal.error("Unable to stop unit \(unit.name) in state inactive")
                throw ExitCode.failure
            case .loaded?: continue
            default: toStop.append(unit.name)
            }
        }
        do {
            try await setAndWait(toStop, to: .loaded, verb: "stop", client: client, block: block)
        } catch {
            Terminal.error("Failed to stop units \(Self.list(toStop)).")
            throw error
        }
        if !block.noBlock { Terminal.error("Successfully stopped units \(Self.list(toStop)).") }
    }

    static func list(_ names: [String]) -> String { "[" + names.joined(separator: " ") + "]" }
}

struct Unload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unload",
        abstract: "Stop units and unload them from their machines; they stay in the registry.",
        discussion: "Example: fleetctl unload web@1.service")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var block: BlockOptions
    @Argument(help: "Unit names.") var units: [String] = []

    func run() async throws {
        let client = try global.client()
        let found = try await registryUnits(units, client: client)
        guard !found.isEmpty else { Terminal.error("Units not found in registry"); return }
        let toUnload = found.filter { $0.current != .inactive }.map(\.name)
        do {
            try await setAndWait(toUnload, to: .inactive, client: client, block: block)
        } catch {
            Terminal.error("Failed to unload units \(Stop.list(toUnload)).")
            throw error
        }
        if !block.noBlock { Terminal.error("Successfully unloaded units \(Stop.list(toUnload)).") }
    }
}

struct Destroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Remove units from the cluster: they are stopped and unloaded wherever they run.",
        discussion: "Example: fleetctl destroy web@1.service")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var block: BlockOptions
    @Argument(help: "Unit names.") var units: [String] = []

    func run() async throws {
        let client = try global.client()
        let names = units.map(UnitName.mangled)
        // Deletes are independent: send them together (bounded), report in argument order.
        let outcome = DestroyOutcome(names: names, results: await concurrentResults(names) { name in
            try await client.destroyUnit(name)
        })
        for line in outcome.printed { print(line) }
        if let failure = outcome.failure {
            Terminal.error("Error destroying units: \(failure)")
            throw ExitCode.failure
        }
        guard !block.noBlock else { return }
        // Unlike fleet, wait (without --no-block) until the units' machines have unloaded them.
        do {
            try await StateWaiter(client: client, attempts: block.blockAttempts).waitForNoStates(outcome.destroyed)
        } catch {
            Terminal.error("Error waiting for units: \(error)")
            throw ExitCode.failure
        }
    }
}

extension StateWaiter {
    /// Waits until no machine publishes a state for any of `names`: one `GET /state` per round,
    /// however many units (one wait per unit read the whole state list once per unit).
    /// Says every 10 s which machines still report the first unit left, so a wait never looks
    /// like a hang.
    func waitForNoStates(_ names: [String]) async throws {
        let start = ContinuousClock.now
        var nextProgress = start + .seconds(10)
        var pending = Set(names)
        while !pending.isEmpty {
            let states = try await client.states().filter { pending.contains($0.name) }
            pending = Set(states.map(\.name))
            DebugLog.log("\(pending.count) units yet to be unloaded")
            guard let name = names.first(where: pending.contains) else { return }
            let now = ContinuousClock.now
            let reporters = states.filter { $0.name == name }
                .map { "\($0.machineID ?? "?") (\($0.systemdActiveState ?? "?"))" }.joined(separator: ", ")
            if attempts > 0, now - start >= .seconds(2 * attempts) {
                throw Timeout(description: "timed out waiting for unit \(name) to be unloaded; still reported by \(reporters)")
            }
            if now >= nextProgress {
                let others = pending.count > 1 ? " (and \(pending.count - 1) more)" : ""
                Terminal.error("Still waiting for \(name)\(others) to be unloaded on \(reporters); see 'fleetctl journal \(name)' or that machine's fleetd log. Ctrl-C stops waiting, not the destroy.")
                nextProgress = now + .seconds(10)
            }
            try await Task.sleep(for: Self.pause(since: start, units: names.count, pending: pending.count))
        }
    }
}

/// The registry units among `arguments`, in argument order; names not in the registry are dropped.
func registryUnits(_ arguments: [String], client: FleetClient) async throws -> [UnitEntity] {
    // One lookup per argument, sent together; the first failure in argument order is thrown.
    let results = await concurrentResults(arguments.map(UnitName.mangled)) { name in try await client.unit(name) }
    return try results.compactMap { try $0.get() }
}

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print a unit's contents as the cluster holds them (normalized).",
        discussion: "Example: fleetctl cat web@1.service")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "One unit name.") var units: [String] = []

    func run() async throws {
        guard units.count == 1 else { Terminal.error("One unit file must be provided"); throw ExitCode.failure }
        let name = UnitName.mangled(units[0])
        guard let unit = try await global.client().unit(name) else {
            Terminal.error("Unit \(name) not found")
            throw ExitCode.failure
        }
        Terminal.out(UnitFile(options: unit.options ?? []).normalizedText)
    }
}
