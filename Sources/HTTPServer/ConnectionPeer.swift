import NIOSSL
import Synchronization

/// The client certificate of the connection a request came on, remembered for the connection's
/// later requests.
///
/// Asking NIOSSL for it (`channel.nioSSL_peerCertificate()`) looks its handler up on the
/// channel's event loop: two thread hops per request, a tenth of an idle fleetd's thread
/// switches on the store's machine, where every presence refresh of the other machines arrives on
/// a kept-alive connection. A TLS 1.2/1.3 server here never renegotiates, so the certificate
/// verified in the handshake is the connection's for its whole life.
///
/// Each connection's task gets its own memo (``LimitedHTTP1Channel`` sets ``current`` around
/// the connection's request loop), so one connection never sees another's certificate.
public final class ConnectionPeer: Sendable {
    @TaskLocal public static var current: ConnectionPeer?

    private let certificate = Mutex<NIOSSLCertificate?>(nil)

    public init() {}

    /// The certificate remembered for this connection, if any.
    public var remembered: NIOSSLCertificate? { certificate.withLock { $0 } }

    /// Remembers the connection's verified client certificate (the first one given wins).
    public func remember(_ peer: NIOSSLCertificate) {
        certificate.withLock { if $0 == nil { $0 = peer } }
    }
}
