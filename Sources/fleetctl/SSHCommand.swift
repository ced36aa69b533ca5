import ArgumentParser
import FleetAPIClient
import FleetUnit
import Foundation

/// `fleetctl ssh`: open a shell on (or run a command on) a machine of the cluster, named by
/// machine ID prefix or by a unit it runs, with the OpenSSH client.
struct SSH: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh",
        abstract: "Open an SSH session to a machine, or the machine running a unit (OpenSSH client).",
        discussion: """
        Examples:
          fleetctl ssh 2c9e1f                      # the machine whose ID starts with 2c9e1f
          fleetctl ssh web@1.service               # the machine running web@1
          fleetctl ssh --unit web@1 -- uptime      # run a command; its exit status is fleetctl's
        Set the user with --ssh-username (default core) and host key checking with
        --strict-host-key-checking and --known-hosts-file. A host that file does not
        know is asked about on standard input (echo yes | fleetctl ssh ... works)
        and its keys are then recorded there. The same holds for --tunnel.
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("A"), .customLong("forward-agent")], help: "Forward the SSH agent.") var forwardAgent = false
    @Option(help: "SSH port of the machine.") var sshPort = 22
    @Option(help: "Machine ID (or unique prefix).") var machine: String?
    @Option(help: "Unit name: its machine.") var unit: String?
    @Argument(parsing: .captureForPassthrough, help: "MACHINE|UNIT, then the command to run.") var arguments: [String] = []

    /// The passthrough capture takes `--help` for a remote word, and `run` would then reach for
    /// the cluster; before `--` (or as the first word, `-h`) it asks for this command's help.
    func validate() throws {
        let own = arguments.prefix { $0 != "--" }
        if own.contains("--help") || own.first == "-h" { throw CleanExit.helpRequest(self) }
    }

    func run() async throws {
        do {
            let (host, command) = try await destination()
            var settings = global.ssh
            settings.port = sshPort
            settings.forwardAgent = forwardAgent
            guard let ssh = SSHSettings.executable() else { throw SSHError.notInstalled }
            settings.prepareKnownHosts()
            // OpenSSH asks about a new host only on a terminal; fleet asked on standard input.
            try HostKeyCheck().ensureKnown(host: host, port: sshPort, settings: settings)
            let argv = ["ssh"] + settings.arguments(host: host) + (command.isEmpty ? [] : [command.joined(separator: " ")])
            // Become ssh: the terminal, signals and exit status are the session's own.
            var cArguments = argv.map { strdup($0) } + [nil]
            execv(ssh, &cArguments)
            throw SSHError("cannot run \(ssh): \(String(cString: strerror(errno)))")
        } catch let error as ExitCode {
            throw error
        } catch {
            Terminal.error("Unable to proceed: \(error)")
            throw ExitCode.failure
        }
    }

    /// The address to connect to and the remote command (the words after `--` if there is one).
    func destination() async throws -> (host: String, command: [String]) {
        if machine != nil && unit != nil {
            throw SSHError("Both machine and unit flags provided, please specify only one.")
        }
        var rest = arguments[...]
        let client = try global.client()
        let machines = try await client.machines()
        let target: MachineEntity
        if let machine {
            target = try Self.machine(machine, in: machines)
        } else if let unit {
            target = try await Self.machine(ofUnit: UnitName.mangled(unit), client: client, machines: machines)
        } else {
            guard let word = rest.first, word != "--" else { throw SSHError("name a machine or a unit: fleetctl ssh MACHINE|UNIT [COMMAND]") }
            rest = rest.dropFirst()
            let byMachine = machines.filter { $0.id.hasPrefix(word) }
            let unitEntity = try await client.unit(UnitName.mangled(word))
            switch (byMachine.count, unitEntity) {
            case (0, nil): throw SSHError("could not find matching unit or machine")
            case (1, nil): target = byMachine[0]
            case (0, _?): target = try await Self.machine(ofUnit: UnitName.mangled(word), client: client, machines: machines)
            default: throw SSHError("\"\(word)\" matches both a machine and a unit, or several machines; use --machine or --unit")
            }
        }
        if let separator = rest.firstIndex(of: "--") { rest = rest[(separator + 1)...] }
        guard let ip = target.primaryIP, !ip.isEmpty else { throw SSHError("machine \(target.id) has no address") }
        return (ip, Array(rest))
    }

    static func machine(_ prefix: String, in machines: [MachineEntity]) throws -> MachineEntity {
        let matches = machines.filter { $0.id.hasPrefix(prefix) }
        guard matches.count == 1 else {
            throw SSHError(matches.isEmpty ? "could not find a machine matching \(prefix)"
                : "\(prefix) matches \(matches.count) machines; give more of the ID")
        }
        return matches[0]
    }

    static func machine(ofUnit name: String, client: FleetClient, machines: [MachineEntity]) async throws -> MachineEntity {
        guard let unit = try await client.unit(name) else { throw SSHError("Unit \(name) does not exist.") }
        guard let id = unit.machineID, let machine = machines.first(where: { $0.id == id }) else {
            throw SSHError("Unit \(name) does not appear to be running on any machine (global units have no one machine).")
        }
        return machine
    }
}

/// `fleetctl fd-forward SOCKET`: copies stdin to a unix socket and the socket to stdout, for a
/// tunnel run over SSH by an older fleetctl (fleet's `--tunnel` runs this on the remote host).
struct FDForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fd-forward",
        abstract: "Internal: proxy stdin/stdout to a unix socket (used by tunnels).",
        discussion: "Example: fleetctl fd-forward /var/run/fleet.sock",
        shouldDisplay: false)
    @Argument(help: "Unix socket path.") var socket: String

    func run() throws {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socket.utf8)
        guard descriptor >= 0, path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Terminal.error("fd-forward: bad socket path \(socket)")
            throw ExitCode.failure
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            Terminal.error("fd-forward: cannot connect to \(socket): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        let input = Thread {
            Self.copy(from: 0, to: descriptor)
            shutdown(descriptor, Int32(SHUT_WR))
        }
        input.start()
        Self.copy(from: descriptor, to: 1)
    }

    /// Copies until end of file or an error.
    static func copy(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(source, &buffer, buffer.count)
            guard count > 0 else { return }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes { write(destination, $0.baseAddress, $0.count) }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
