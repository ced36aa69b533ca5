import ArgumentParser
import FleetAPIClient
import FleetUnit

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Upload units to the cluster without starting them.",
        discussion: "Example: fleetctl submit web@.service db.service")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var deprecated: DeprecatedSignOption
    @Flag(help: "Replace units whose registry contents differ from the local files; only inactive units (fleet's rule).")
    var replace = false
    @Argument(help: "Unit files or names, e.g. web@.service or ./units/db.service.") var units: [String] = []

    func run() async throws {
        try deprecated.refuseIfGiven()
        guard !units.isEmpty else { Terminal.error("No units given"); return }
        _ = try await createUnits(units, global: global, replace: replace)
    }
}

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Place units on machines and load them into systemd, without starting them.",
        discussion: "Example: fleetctl load web@1.service")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var deprecated: DeprecatedSignOption
    @OptionGroup var block: BlockOptions
    @Flag(help: "Replace units whose registry contents differ from the local files; only inactive or loaded units (fleet's rule).")
    var replace = false
    @Argument(help: "Unit files or names.") var units: [String] = []

    func run() async throws {
        try deprecated.refuseIfGiven()
        guard !units.isEmpty else { Terminal.error("No units given"); return }
        let client = try global.client()
        let created = try await createUnits(units, global: global, replace: replace, desiredState: .loaded)
        try await setAndWait(created.toSet, to: .loaded, client: client, block: block, alreadySet: created.createdInState)
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Place units on machines and start them.",
        discussion: """
        Examples:
          fleetctl start web@1.service web@2.service   # instances of a local or submitted web@.service
          fleetctl start --no-block ./units/db.service
        """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var deprecated: DeprecatedSignOption
    @OptionGroup var block: BlockOptions
    @Flag(help: "Replace units whose registry contents differ from the local files; a launched unit is restarted with them on its machine.")
    var replace = false
    @Argument(help: "Unit files or names.") var units: [String] = []

    func run() async throws {
        try deprecated.refuseIfGiven()
        guard !units.isEmpty else { Terminal.error("No units given"); return }
        let client = try global.client()
        let created = try await createUnits(units, global: global, replace: replace, desiredState: .launched)
        DebugLog.log("\(created.createdInState.count) of \(created.names.count) units created launched")
        let placed = try await setAndWait(created.toSet, to: .launched, client: client, block: block,
                                          alreadySet: created.createdInState)
        DebugLog.log("\(placed.names.count) units launched; waiting for systemd to report them active")
        guard !block.noBlock else { return }
        // Launched means started through systemd; now wait for systemd to say it is active.
        do {
            try await waitForActive(placed.names, client: client, attempts: block.blockAttempts,
                                    placements: placed.placements)
        } catch {
            Terminal.error("Error waiting for systemd unit states, err: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Waits until systemd on each unit's machine reports it `active`; fails at once on `failed`.
/// Placements are read once (they were just waited for, so the wait that read them may hand
/// them over); each round then reads only the published states, and reads placements again
/// only while some unit shows no state where it was placed (it moved).
/// - Parameter attempts: 0 waits until then; N gives up after N × 2 s.
/// - Parameter placements: each unit's machine as just read, if known.
func waitForActive(_ names: [String], client: FleetClient, attempts: Int,
                   placements: [String: String?] = [:]) async throws {
    let start = ContinuousClock.now
    var pending = names
    var targets = placements
    var stale = names.contains { placements[$0] == nil }
    while !pending.isEmpty {
        if stale {
            targets = Dictionary(try await client.units().map { ($0.name, $0.machineID) }, uniquingKeysWith: { a, _ in a })
        }
        let states = Dictionary(try await client.states().map { ("\($0.name) \($0.machineID ?? "")", $0) },
                                uniquingKeysWith: { a, _ in a })
        stale = false
        for name in pending {
            guard let state = states["\(name) \((targets[name] ?? nil) ?? "")"] else {
                stale = true
                continue
            }
            if state.activeState == .failed {
                throw StateWaiter.Timeout(description: "unit \(name) failed to start on \(state.machineID ?? "?") (systemd: \(state.systemdActiveState ?? "-")/\(state.systemdSubState ?? "-"))")
            }
            if state.activeState == .active { pending.removeAll { $0 == name } }
        }
        DebugLog.log("\(pending.count) units not active yet")
        guard !pending.isEmpty else { return }
        if attempts > 0, ContinuousClock.now - start >= .seconds(2 * attempts) {
            throw StateWaiter.Timeout(description: "Failed to find an active unit \(pending[0]) within \(2 * attempts)s")
        }
        try await Task.sleep(for: StateWaiter.pause(since: start, units: names.count, pending: pending.count))
    }
}

/// Creates missing units; on a bad file or name prints fleet's error line and exits 1.
func createUnits(_ arguments: [String], global: GlobalOptions, replace: Bool, desiredState: DesiredState = .inactive)
    async throws -> UnitCreator.Outcome
{
    let creator = UnitCreator(client: try global.client(), replace: replace, desiredState: desiredState)
    do {
        return try await creator.ensure(arguments)
    } catch {
        Terminal.error("Error creating units: \(error)")
        throw ExitCode.failure
    }
}

/// Sets each unit's desired state and, unless `--no-block`, waits for its current state to match.
///
/// Global units run wherever they match and have no single current state: they are triggered,
/// not waited for. A unit the engine reports it cannot place fails at once, with the reason,
/// instead of waiting forever (fleet's hang on unschedulable units).
/// - Returns: the units that were waited for (all but the global ones), and where the wait
///   last saw each placed (none with `--no-block`).
@discardableResult
func setAndWait(_ names: [String], to state: DesiredState, verb: String? = nil, client: FleetClient,
                block: BlockOptions, alreadySet: Set<String> = []) async throws -> WaitedUnits {
    let registered: [String: UnitEntity]
    do {
        registered = Dictionary(try await client.units().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    } catch {
        Terminal.error("Error retrieving units from fleet API: \(error)")
        throw ExitCode.failure
    }
    let globals = Set(names.filter { registered[$0].map(UnitEntity.isGlobal) ?? false })
    // Desired states are independent writes: in batches, or to a fleetd without them
    // concurrently, a few at a time.
    do {
        let changes = names.filter { !alreadySet.contains($0) }.map { UnitEntity(name: $0, desiredState: state) }
        try await writeUnits(changes, client: client, limit: 16) { name, error in
            StateWaiter.Timeout(description: "Error setting target state of unit \(name): \(error)")
        }
    } catch {
        Terminal.error("\(error)")
        throw ExitCode.failure
    }
    let verb = verb ?? {
        switch state {
        case .launched: "start"
        case .loaded: "load"
        case .inactive: "unload"
        }
    }()
    for name in names where globals.contains(name) { print("Triggered global unit \(name) \(verb)") }
    let waited = names.filter { !globals.contains($0) }
    if block.noBlock {
        for name in waited { print("Triggered unit \(name) \(verb)") }
        return WaitedUnits(names: waited, placements: [:])
    }
    let waiter = StateWaiter(client: client, attempts: block.blockAttempts)
    let legend = MachineLegend((try? await client.machines()) ?? [], full: false)
    do {
        let placements = try await waiter.waitAll(waited, "report state \(state.rawValue)",
                                                  reached: { $0.current == state }) { unit in
            print("Unit \(unit.name) \(state.rawValue)" + (state == .inactive ? "" : " on \(legend(unit.machineID))"))
        }
        return WaitedUnits(names: waited, placements: placements)
    } catch {
        Terminal.error("Error waiting for units: \(error)")
        throw ExitCode.failure
    }
}

/// What ``setAndWait(_:to:verb:client:block:alreadySet:)`` waited for.
struct WaitedUnits {
    var names: [String]
    /// Each unit's machine as the wait's last read saw it.
    var placements: [String: String?]
}

/// Runs `body` for every element with at most `limit` running at once; the first error wins.
func forEachConcurrently<T: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = items.makeIterator()
        for _ in 0..<limit {
            guard let item = next.next() else { break }
            group.addTask { try await body(item) }
        }
        while try await group.next() != nil {
            if let item = next.next() { group.addTask { try await body(item) } }
        }
    }
}

extension UnitEntity {
    /// True when the unit's `[X-Fleet]` section says `Global=true`.
    static func isGlobal(_ unit: UnitEntity) -> Bool {
        guard let name = try? UnitName(unit.name) else { return false }
        return XFleetRequirements(unit: name, file: UnitFile(options: unit.options ?? [])).isGlobal
    }
}
