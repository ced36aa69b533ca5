import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

extension HTTPServerBuilder {
    /// HTTP/1 under `limits` (``limited(_:gate:logger:)``), spoken inside TLS when `tls` is
    /// given: the handshake comes first, so a client whose certificate the configuration
    /// refuses never reaches HTTP. The connection cap, idle timeout and header limits are the
    /// same either way.
    public static func limited(_ limits: ListenerLimits, gate: ConnectionGate, logger: Logger,
                               tls: TLSConfiguration?) throws -> HTTPServerBuilder {
        let plain = limited(limits, gate: gate, logger: logger)
        guard let tls else { return plain }
        return try .tls(plain, tlsConfiguration: closingPromptly(tls))
    }

    /// How long a closing TLS connection waits for the client's close_notify.
    static let tlsShutdownTimeout: TimeAmount = .milliseconds(500)

    /// `tls` with ``tlsShutdownTimeout`` as its close_notify wait. NIOSSL's default, 5 s, held up
    /// every graceful stop of a fleetd whose peers keep idle keep-alive connections to it: the
    /// store holder's restart took 5 s more, a large part of the agent TTL in which the other
    /// machines' discovery records must be refreshed.
    static func closingPromptly(_ tls: TLSConfiguration) -> TLSConfiguration {
        var tls = tls
        tls.shutdownTimeout = min(tls.shutdownTimeout, tlsShutdownTimeout)
        return tls
    }
}
