import FleetRegistry

/// Machines kept sorted by (load, machine ID), fleet's least-loaded order, updated in place as
/// units are assigned so a pass never re-sorts all machines per unit (10,000 units on 1,000
/// machines would otherwise cost 10^8 comparisons).
struct LoadOrder {
    private(set) var order: [(load: Int, id: MachineID)]
    private var loads: [MachineID: Int]

    init(_ machines: [MachineID]) {
        order = machines.sorted().map { (0, $0) }
        loads = Dictionary(uniqueKeysWithValues: machines.map { ($0, 0) })
    }

    func load(of machine: MachineID) -> Int { loads[machine] ?? 0 }

    mutating func adjust(_ machine: MachineID, by delta: Int) {
        guard let load = loads[machine] else { return }
        order.remove(at: position(of: (load, machine)))
        loads[machine] = load + delta
        order.insert((load + delta, machine), at: position(of: (load + delta, machine)))
    }

    /// The first index whose entry is not less than `entry` (binary search).
    private func position(of entry: (load: Int, id: MachineID)) -> Int {
        var low = 0, high = order.count
        while low < high {
            let mid = (low + high) / 2
            if (order[mid].load, order[mid].id) < (entry.load, entry.id) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
