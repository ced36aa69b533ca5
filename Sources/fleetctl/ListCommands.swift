import ArgumentParser
import FleetAPIClient
import FleetUnit

/// The flags the list commands share: which columns, and whether to shorten or print a header.
struct TableOptions: ParsableArguments {
    @Flag(help: "Omit the header row.") var noLegend = false
    @Flag(name: [.customShort("l"), .customLong("full")], help: "Do not shorten machine IDs and hashes.") var full = false
    @Option(help: "Comma-separated columns to print.") var fields: String?

    /// The chosen columns, validated against `valid`, or fleet's error and exit 1.
    func columns(default defaults: String, valid: [String]) throws -> [String] {
        switch Self.columns(fields ?? defaults, valid: valid) {
        case .success(let columns): return columns
        case .failure(let error):
            Terminal.error(error.description)
            throw ExitCode.failure
        }
    }

    struct FieldsError: Error, CustomStringConvertible, Equatable {
        var description: String
    }

    /// `--fields` text as columns, with fleet's messages for an empty list or an unknown key.
    static func columns(_ text: String, valid: [String]) -> Result<[String], FieldsError> {
        guard !text.isEmpty else { return .failure(FieldsError(description: "Must define output format")) }
        let columns = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if let bad = columns.first(where: { !valid.contains($0) }) {
            return .failure(FieldsError(description: "Invalid key in output format: \"\(bad)\""))
        }
        return .success(columns)
    }

    func print(_ columns: [String], _ rows: [[String]]) {
        let header = noLegend ? [] : [columns.map { $0.uppercased() }]
        Terminal.out(TableWriter.render(header + rows))
    }

    func hash(_ hex: String?) -> String {
        guard let hex, !hex.isEmpty else { return "-" }
        return full ? hex : String(hex.prefix(7))
    }
}

struct ListUnits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-units",
        abstract: "List the units running (or loaded) on machines, with their systemd state.",
        discussion: "Fields: unit, machine, load, active, sub, hash. Example: fleetctl list-units --fields unit,active --no-legend")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var table: TableOptions

    func run() async throws {
        let columns = try table.columns(default: "unit,machine,active,sub",
                                        valid: ["unit", "machine", "load", "active", "sub", "hash"])
        let client = try global.client()
        let states: [UnitStateEntity], machines: [MachineEntity]
        do {
            states = try await client.states()
            machines = try await client.machines()
        } catch {
            Terminal.error("Error retrieving list of units from fleet API: \(error)")
            throw ExitCode.failure
        }
        let legend = MachineLegend(machines, full: table.full)
        let rows = states.sorted { ($0.name, $0.machineID ?? "") < ($1.name, $1.machineID ?? "") }.map { state in
            columns.map { column -> String in
                switch column {
                case "unit": return state.name
                case "machine": return legend(state.machineID)
                case "load": return state.systemdLoadState ?? "-"
                case "active": return state.systemdActiveState ?? "-"
                case "sub": return state.systemdSubState ?? "-"
                default: return table.hash(state.hash)
                }
            }
        }
        table.print(columns, rows)
    }
}

struct ListUnitFiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-unit-files",
        abstract: "List the units in the cluster's registry, with desired and current state.",
        discussion: """
        Fields: unit, hash, desc, dstate, state, target, tmachine, global, reason (why a unit cannot be placed).
        Example: fleetctl list-unit-files --fields unit,dstate,target,reason
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Omit the header row.") var noLegend = false
    @Flag(help: "Do not shorten machine IDs and hashes.") var full = false
    @Option(help: "Comma-separated columns to print.") var fields: String?

    func run() async throws {
        let table = try TableOptions.parse((noLegend ? ["--no-legend"] : []) + (full ? ["--full"] : [])
                                           + (fields.map { ["--fields", $0] } ?? []))
        let columns = try table.columns(default: "unit,hash,dstate,state,target",
                                        valid: ["unit", "hash", "desc", "dstate", "state", "target", "tmachine", "global", "reason"])
        if columns.contains("tmachine") {
            Terminal.error("WARNING: the \"tmachine\" field is deprecated; use \"target\"")
        }
        let client = try global.client()
        let units: [UnitEntity], machines: [MachineEntity]
        do {
            units = try await client.units()
            machines = try await client.machines()
        } catch {
            Terminal.error("Error retrieving list of units from fleet API: \(error)")
            throw ExitCode.failure
        }
        let legend = MachineLegend(machines, full: full)
        let rows = units.sorted { $0.name < $1.name }.map { unit in
            let file = UnitFile(options: unit.options ?? [])
            let global = UnitEntity.isGlobal(unit)
            return columns.map { column -> String in
                switch column {
                case "unit": return unit.name
                case "hash": return table.hash(file.hash.hex)
                case "desc": return file.description ?? "-"
                case "dstate": return unit.desiredState ?? "-"
                case "state": return global ? "-" : unit.currentState ?? "-"
                case "global": return String(global)
                case "reason": return unit.unplaceableReason ?? "-"
                default: return global ? "global" : legend(unit.machineID)
                }
            }
        }
        table.print(columns, rows)
    }
}

struct ListMachines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-machines",
        abstract: "List the machines in the cluster.",
        discussion: "Fields: machine, ip, metadata. Example: fleetctl list-machines --full")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var table: TableOptions

    func run() async throws {
        let columns = try table.columns(default: "machine,ip,metadata", valid: ["machine", "ip", "metadata"])
        let client = try global.client()
        let machines: [MachineEntity]
        do {
            machines = try await client.machines()
        } catch {
            Terminal.error("Error retrieving list of active machines from fleet API (\(error))")
            Terminal.error("Possible issues:")
            Terminal.error("  fleetd is not running, or --endpoint / FLEETCTL_ENDPOINT points elsewhere")
            Terminal.error("  the cluster's store is unreachable")
            throw ExitCode.failure
        }
        let rows = machines.sorted { $0.id < $1.id }.map { machine in
            columns.map { column -> String in
                switch column {
                case "machine": return MachineLegend.id(machine.id, full: table.full)
                case "ip": return machine.primaryIP.flatMap { $0.isEmpty ? nil : $0 } ?? "-"
                default:
                    let pairs = (machine.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    return pairs.isEmpty ? "-" : pairs.joined(separator: ",")
                }
            }
        }
        table.print(columns, rows)
    }
}
