import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
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
        return try .tls(plain, tlsConfiguration: tls)
    }
}
