import FleetStore

/// One holder's tenure of the engine lease: who holds it and the store index at which its lease
/// key was created.
///
/// Renewals keep the term (they refresh the key, which keeps its created index on every
/// backend); losing the lease ends it for good, since a successor, or this machine again, must
/// create the key anew at a new index. Writes fenced by a term (``Registry/fenced(by:)``) land
/// only while the key is still that incarnation; see ``StoreGuard`` for why the created index.
public struct LeaseTerm: Sendable, Hashable, CustomStringConvertible {
    public var machine: MachineID
    /// The lease key's `createdIndex`.
    public var createdIndex: UInt64

    public init(machine: MachineID, createdIndex: UInt64) {
        self.machine = machine
        self.createdIndex = createdIndex
    }

    public var description: String { "\(machine)@\(createdIndex)" }
}
