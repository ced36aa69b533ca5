import ArgumentParser
import FleetAPIClient
import Foundation

@main
struct FleetctlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetctl",
        abstract: "Run systemd units on a fleet cluster, and see where they run.",
        discussion: """
        Examples:
          fleetctl start web@1.service           # place and start a unit (template web@.service found locally)
          fleetctl list-units                    # where units run and their systemd state
          fleetctl stop web@1.service && fleetctl destroy web@1.service
        The API endpoint comes from --endpoint, then $FLEETCTL_ENDPOINT, then unix:///var/run/fleet.sock.
        Commands may be abbreviated to any unique prefix (fleetctl list-m).
        Every command's --help works without a cluster.

        VERSION: \(FleetVersion.current)
        """,
        version: versionText,
        subcommands: [
            Submit.self, Load.self, Start.self, Stop.self, Restart.self, Unload.self, Destroy.self, Cat.self,
            Status.self, Journal.self, SSH.self, FDForward.self, ListUnits.self, ListUnitFiles.self, ListMachines.self, ListServices.self, Discover.self, Announce.self,
            Cluster.self, Backup.self, Verify.self, Version.self,
        ])

    static var commandNames: [String] { configuration.subcommands.map { $0._commandName } }

    /// What `fleetctl version` and `--version` print; `fleetctl help` shows the version too, as fleet's does.
    static let versionText = "fleetctl version \(FleetVersion.current)"

    static func main() async {
        let arguments = CommandLineRewriter.rewrite(Array(CommandLine.arguments.dropFirst()), commands: commandNames)
        if let message = CommandLineRewriter.unknownCommand(arguments, commands: commandNames) {
            Terminal.error(message)
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        await main(arguments)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print fleetctl's version.",
        discussion: "Example: fleetctl version")
    func run() { print(FleetctlCommand.versionText) }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Deprecated: signed and verified units are no longer supported.",
        discussion: "Example: fleetctl verify web.service   # prints a deprecation warning and exits 2")
    @Argument(help: "Ignored.") var units: [String] = []

    func run() throws {
        Terminal.error("WARNING: The signed/verified units feature is DEPRECATED and cannot be used.")
        throw ExitCode(2)
    }
}
