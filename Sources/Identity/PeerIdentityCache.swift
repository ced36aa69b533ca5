import Synchronization

/// Identities already read from peer certificates, by the certificate's DER bytes.
///
/// Every request on a TLS listener names its peer, and reading the identity parses the whole
/// certificate (ASN.1): about 5 % of the CPU of the store's idle fleetd, serving the same few
/// machines' presence refreshes over and over. The identity is a function of the certificate's
/// bytes alone (the handshake has already checked the chain and the dates), so a certificate
/// seen before is looked up, not parsed. Bounded: past ``capacity`` entries it starts afresh.
final class PeerIdentityCache: Sendable {
    static let shared = PeerIdentityCache()
    static let capacity = 256

    private let entries = Mutex<[[UInt8]: PeerIdentity]>([:])

    func identity(of der: [UInt8], reading read: () -> PeerIdentity?) -> PeerIdentity? {
        if let known = entries.withLock({ $0[der] }) { return known }
        guard let identity = read() else { return nil }
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[der] = identity
        }
        return identity
    }
}
