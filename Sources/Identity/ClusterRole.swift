/// What a certificate's holder may do in the cluster. The role is written into every leaf
/// certificate the cluster CA issues (``IdentityURI``), so a listener learns it from the TLS
/// handshake alone, with no lookup.
public enum ClusterRole: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Everything: the operator's `fleetctl`.
    case admin
    /// What a fleetd needs: its presence, its own schedule and states, discovery records. Its
    /// certificate also names the machine (``PeerIdentity/machineID``).
    case machine
    /// Reading and watching `/discovery` and service listings, nothing else.
    case discoveryReader = "discovery-reader"

    public var description: String { rawValue }
}
