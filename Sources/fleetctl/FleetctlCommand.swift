import ArgumentParser

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
        """,
        version: "fleetctl version 0.1.0",
        subcommands: [
            Submit.self, Load.self, Start.self, Stop.self, Unload.self, Destroy.self, Cat.self,
            ListUnits.self, ListUnitFiles.self, ListMachines.self, ListServices.self, Discover.self, Announce.self,
            Version.self,
        ])

    static func main() async {
        await main(CommandLineRewriter.rewrite(Array(CommandLine.arguments.dropFirst()),
                                               commands: configuration.subcommands.map { $0._commandName }))
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print fleetctl's version.")
    func run() { print("fleetctl version 0.1.0") }
}
