import FleetRegistry
import FleetUnit

/// The engine's working copy of the cluster during one pass: which units each machine is
/// assigned, and the checks that decide whether a unit may join them.
struct ClusterState {
    enum Verdict: Equatable {
        case yes
        case no(String)
        /// Allowed, but these co-located units must move (`Replaces`).
        case replacing([UnitName])
    }

    let units: [UnitName: UnitRecord]
    let requirements: [UnitName: XFleetRequirements]
    let machines: [MachineID: MachineRecord]
    let machineOrder: [MachineRecord]
    let nonGlobal: [UnitRecord]
    let global: [UnitRecord]
    var assigned: [MachineID: Set<UnitName>]
    var loadOrder: LoadOrder
    var placement: [UnitName: MachineID] = [:]
    var reasons: [UnitName: String] = [:]

    init(units: [UnitRecord], requirements: [UnitName: XFleetRequirements], machines: [MachineRecord]) {
        let sortedUnits = units.sorted { $0.name < $1.name }
        self.units = Dictionary(sortedUnits.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.requirements = requirements
        self.machines = Dictionary(machines.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.machineOrder = machines.sorted { $0.id < $1.id }
        self.nonGlobal = sortedUnits.filter { requirements[$0.name]?.isGlobal != true }
        self.global = sortedUnits.filter { requirements[$0.name]?.isGlobal == true }
        self.assigned = Dictionary(uniqueKeysWithValues: machines.map { ($0.id, []) })
        self.loadOrder = LoadOrder(machines.map(\.id))
    }

    mutating func assign(_ unit: UnitName, to machine: MachineID) {
        if assigned[machine]?.insert(unit).inserted == true { loadOrder.adjust(machine, by: 1) }
        if requirements[unit]?.isGlobal != true { placement[unit] = machine }
    }

    mutating func unassign(_ unit: UnitName, from machine: MachineID) {
        if assigned[machine]?.remove(unit) != nil { loadOrder.adjust(machine, by: -1) }
        if placement[unit] == machine { placement[unit] = nil }
    }

    /// Units without `MachineOf` first, so peers are placed before their followers.
    func followersLast(_ a: UnitRecord, _ b: UnitRecord) -> Bool {
        let fa = requirements[a.name]?.machineOf.isEmpty == false
        let fb = requirements[b.name]?.machineOf.isEmpty == false
        return fa == fb ? a.name < b.name : !fa
    }

    /// fleet's `AbleToRun`, in its order: machine ID, metadata, peers, conflicts, replaces.
    func ableToRun(_ name: UnitName, on machineID: MachineID, ignoringReplaces: Bool) -> Verdict {
        guard let machine = machines[machineID] else { return .no("machine is gone") }
        guard let req = requirements[name] else { return .yes }
        if let wanted = req.machineID, !req.machineIDMatches(machineID.rawValue) {
            return .no("MachineID=\(wanted) does not match")
        }
        if !req.metadataMatches(machine.metadata) {
            let wanted = req.machineMetadata.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value.sorted().joined(separator: "|"))" }.joined(separator: ",")
            return .no("metadata \(wanted) not satisfied")
        }
        let here = assigned[machineID] ?? []
        for peer in req.machineOf where !here.contains(where: { $0.rawValue == peer }) {
            return .no("MachineOf=\(peer) is not on this machine")
        }
        for other in here where other != name {
            if req.conflicts(with: other) || requirements[other]?.conflicts(with: name) == true {
                return .no("conflicts with \(other)")
            }
        }
        // A unit never joins one that replaces it (that unit would push it out again).
        if let replacer = here.first(where: { other in
            other != name && requirements[other]?.replaces(name) == true && req.replaces(other) != true
        }) {
            return .no("replaced by \(replacer)")
        }
        guard !ignoringReplaces else { return .yes }
        let replaced = here.filter { other in
            other != name && req.replaces(other) && requirements[other]?.replaces(name) != true
                && requirements[other]?.isGlobal != true
        }
        return replaced.isEmpty ? .yes : .replacing(replaced.sorted())
    }
}
