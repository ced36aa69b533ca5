import Foundation
import X509

/// Checks a peer's certificate chain against the cluster CA and reads who the peer is.
///
/// fleetd's listeners have BoringSSL check the chain during the handshake; this is the same
/// check in Swift, for tools and tests, and for reading a handshake's peer certificate back
/// into a ``PeerIdentity``.
public struct ClusterTrust: Sendable {
    public let roots: [Certificate]

    public init(roots: [Certificate]) {
        self.roots = roots
    }

    /// The peer's identity if `leaf` (with any `intermediates`) chains to a root and is valid now.
    public func verify(_ leaf: Certificate, intermediates: [Certificate] = []) async throws -> PeerIdentity {
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy()
        }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
        case .validCertificate:
            return try PeerIdentity(certificate: leaf)
        case .couldNotValidate(let failures):
            let reason = failures.first.map { "\($0.policyFailureReason)" } ?? "no chain to the cluster CA"
            throw IdentityError(.untrusted, "the certificate is not trusted by the cluster CA: \(reason)")
        }
    }
}
