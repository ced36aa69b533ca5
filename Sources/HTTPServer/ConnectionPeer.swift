import NIOSSL
import Synchronization

/// The client certificate of the connection a request came on, remembered for the connection's
/// later requests.
///
/// Asking NIOSSL for it (`channel.nioSSL_peerCertificate()`) looks its handler up on the
/// channel's event loop: hops there and back on every request (about 4 % of the store machine's
/// thread switches at idle, where the other machines' presence refreshes arrive on kept-alive
/// connections, and more in a burst of writes). A TLS 1.2/1.3 server here never renegotiates, so the certificate
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
