import ArgumentParser
import Testing
@testable import fleetctl

/// Issue 12: help works without a cluster, shows the version, and flags fleet accepted are accepted.
@Suite struct HelpAndCompatibilityTests {
    /// Whether `arguments` parse to a help request (ArgumentParser's help command, or a clean
    /// exit with the usage) rather than to a command that would run.
    func isHelpRequest(_ arguments: [String]) -> Bool {
        do {
            let parsed = try FleetctlCommand.parseAsRoot(arguments)
            return String(describing: type(of: parsed)).contains("HelpCommand")
        } catch {
            return FleetctlCommand.exitCode(for: error) == .success && FleetctlCommand.fullMessage(for: error).contains("USAGE")
        }
    }

    /// Before: `fleetctl ssh --help` was taken as a remote word and fleetctl went for the cluster.
    @Test(arguments: FleetctlCommand.commandNames)
    func everyCommandsHelpIsAHelpRequest(command: String) {
        #expect(isHelpRequest([command, "--help"]))
        #expect(isHelpRequest([command, "-h"]))
    }

    @Test func sshHelpAfterTheMachineIsStillHelpButAfterDashDashIsRemote() throws {
        #expect(isHelpRequest(["ssh", "m1", "--help"]))
        let remote = try #require(try FleetctlCommand.parseAsRoot(["ssh", "m1", "--", "ls", "--help"]) as? SSH)
        #expect(remote.arguments.contains("--help"))
        let dashH = try #require(try FleetctlCommand.parseAsRoot(["ssh", "m1", "ls", "-h"]) as? SSH)
        #expect(dashH.arguments == ["m1", "ls", "-h"])
    }

    /// fleet's command names, each given, not derived: ArgumentParser derives a command's name
    /// from its type name (a string conversion) for every subcommand at every argument, which
    /// was a sixth of fleetctl's CPU in `fleetctl start` of 200 units (issue 16).
    @Test func everyCommandNamesItself() {
        let subcommands = FleetctlCommand.configuration.subcommands
        #expect(subcommands.allSatisfy { $0.configuration.commandName != nil },
                "derived: \(subcommands.filter { $0.configuration.commandName == nil })")
        #expect(FleetctlCommand.commandNames == [
            "submit", "load", "start", "stop", "restart", "unload", "destroy", "cat", "status", "journal", "ssh",
            "fd-forward", "list-units", "list-unit-files", "list-machines", "list-services", "discover", "announce",
            "cluster", "backup", "verify", "version",
        ])
    }

    @Test func twoHundredUnitsParseAsOneStart() throws {
        let names = (1...200).map { "web@\($0).service" }
        let start = try #require(try FleetctlCommand.parseAsRoot(["start"] + names) as? Start)
        #expect(start.units == names)
    }

    /// Before: `fleetctl help` did not say which version it was.
    @Test func helpShowsTheVersion() {
        #expect(FleetctlCommand.helpMessage().contains("VERSION: \(FleetctlCommand.versionText.split(separator: " ").last!)"))
    }

    /// Before: exit 64 (unknown option) where fleet went on.
    @Test(arguments: [
        ["status", "--no-block", "web.service"], ["status", "--block-attempts", "3", "web.service"],
        ["restart", "--no-block", "web.service"],
    ])
    func flagsFleetAcceptedAreAccepted(arguments: [String]) throws {
        _ = try FleetctlCommand.parseAsRoot(arguments)
    }

    @Test(arguments: ["submit", "load", "start"])
    func signIsRefusedAsFleetDid(command: String) async throws {
        let parsed = try FleetctlCommand.parseAsRoot([command, "--sign", "web.service"])
        let error = await #expect(throws: ExitCode.self) {
            var runnable = try #require(parsed as? any AsyncParsableCommand)
            try await runnable.run()
        }
        #expect(error == ExitCode(2))
    }
}
