import FleetHTTPServer
import FleetIdentity
import Hummingbird
import Logging
import NIOCore
import NIOSSL

/// On a TLS listener, reads the client certificate the handshake verified into the request's
/// ``FleetRequestContext/peer``, for the role checks that will use it. The listener's TLS
/// configuration requires a certificate from the cluster CA, so a request only gets here with
/// one; a certificate that names no valid fleet identity is refused with 403.
public struct PeerIdentityMiddleware: RouterMiddleware {
    public typealias Context = FleetRequestContext

    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let channel = context.channel else { return try await next(request, context) }
        guard let certificate = await Self.peerCertificate(of: channel) else { return try await next(request, context) }
        guard let identity = NodeTLS.identity(of: certificate) else {
            logger.warning("refused a client certificate that names no fleet role")
            throw HTTPError(.forbidden, message: "the client certificate names no fleet role")
        }
        var context = context
        context.peer = identity
        logger.debug("request from an authenticated peer", metadata: [
            "peer.role": "\(identity.role)", "peer.machine_id": "\(identity.machineID ?? "")",
            "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
        ])
        return try await next(request, context)
    }

    /// The connection's verified client certificate: remembered from its first request
    /// (``ConnectionPeer``), or asked of NIOSSL (a hop to the channel's event loop).
    static func peerCertificate(of channel: any Channel) async -> NIOSSLCertificate? {
        if let known = ConnectionPeer.current?.remembered { return known }
        guard let certificate = try? await channel.nioSSL_peerCertificate().get() else { return nil }
        ConnectionPeer.current?.remember(certificate)
        return certificate
    }
}
