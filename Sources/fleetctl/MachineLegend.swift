import FleetAPIClient

/// How fleetctl names a machine in tables: `0a1b2c3d...` or the full ID with `--full`,
/// followed by `/<IP>` when the machine is known and has one; `-` for none.
struct MachineLegend {
    let machines: [String: MachineEntity]
    let full: Bool

    init(_ machines: [MachineEntity], full: Bool) {
        self.machines = Dictionary(machines.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.full = full
    }

    func callAsFunction(_ id: String?) -> String {
        guard let id, !id.isEmpty else { return "-" }
        let name = Self.id(id, full: full)
        guard let ip = machines[id]?.primaryIP, !ip.isEmpty else { return name }
        return name + "/" + ip
    }

    static func id(_ id: String, full: Bool) -> String {
        full ? id : String(id.prefix(8)) + "..."
    }
}
