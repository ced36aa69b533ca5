import ArgumentParser
import FleetAPIClient
import FleetUnit

/// `fleetctl restart`: launched units are stopped (desired `loaded`, waited for) and started
/// again; loaded units are started; inactive ones are reported and skipped.
///
/// Unlike fleet, a global unit is restarted too, through the cluster rather than over SSH: it
/// is set `loaded` until no machine reports it active, then `launched`. And a unit that could
/// not be restarted makes the exit status 1 once the others are done.
struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart units: stop them where they run and start them again.",
        discussion: """
        Examples:
          fleetctl restart web@1.service web@2.service
          fleetctl restart --block-attempts 10 db.service   # give up after about 20 s per phase
        --no-block is accepted and ignored: without waiting for the stop, a start
        may find the unit still running and restart nothing.
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Give up waiting after N attempts of 2 s each (0: wait until done, showing progress).")
    var blockAttempts: Int = 0
    @Flag(help: "Accepted for fleet compatibility and ignored: a restart waits for the stop before it starts again.")
    var noBlock = false
    @Argument(help: "Unit names.") var units: [String] = []

    func validate() throws {
        try BlockOptions.check(blockAttempts)
    }

    func run() async throws {
        let client = try global.client()
        let found = try await registryUnits(units, client: client)
        guard !found.isEmpty else { Terminal.error("Units not found in registry"); return }
        let block = try BlockOptions.parse(["--block-attempts", String(blockAttempts)])
        var failed = false
        for unit in found {
            if UnitEntity.isGlobal(unit) {
                try await restartGlobal(unit.name, client: client, block: block)
                continue
            }
            switch unit.current ?? .inactive {
            case .inactive:
                Terminal.error("Unable to restart unit \(unit.name) in state inactive")
                failed = true
                continue
            case .launched:
                try await setAndWait([unit.name], to: .loaded, client: client, block: block)
            default:
                break
            }
            try await setAndWait([unit.name], to: .launched, client: client, block: block)
            do {
                try await waitForActive([unit.name], client: client, attempts: blockAttempts)
            } catch {
                Terminal.error("Error waiting for systemd unit states, err: \(error)")
                throw ExitCode.failure
            }
        }
        if failed { throw ExitCode.failure }
    }

    /// Stops a global unit everywhere (waiting until no machine reports it active), then starts it.
    func restartGlobal(_ name: String, client: FleetClient, block: BlockOptions) async throws {
        do {
            try await client.setDesiredState(name, .loaded)
            try await StateWaiter(client: client, attempts: blockAttempts).waitForNoActiveStates(name)
            try await client.setDesiredState(name, .launched)
        } catch {
            Terminal.error("Error restarting global unit \(name): \(error)")
            throw ExitCode.failure
        }
        print("Triggered global unit \(name) restart")
    }
}

extension StateWaiter {
    /// Waits until no machine reports `name` active (or activating, reloading, deactivating).
    func waitForNoActiveStates(_ name: String) async throws {
        let start = ContinuousClock.now
        while try await client.states().contains(where: { $0.name == name && $0.activeState != .inactive
                                                            && $0.activeState != .failed }) {
            if attempts > 0, ContinuousClock.now - start >= .seconds(2 * attempts) {
                throw Timeout(description: "timed out waiting for global unit \(name) to stop")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
