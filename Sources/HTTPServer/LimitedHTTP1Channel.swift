import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 child channel under ``ListenerLimits``: a connection beyond the cap is
/// closed as soon as it is accepted, idle connections time out, headers are bounded, TCP
/// connections have keepalive (``TCPKeepalive``), and every connection carries a
/// ``ClientDisconnectHandler``.
public struct LimitedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let gate: ConnectionGate
    let logger: Logger

    public init(responder: @escaping HTTPChannelHandler.Responder, limits: ListenerLimits, gate: ConnectionGate,
                logger: Logger) {
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
            maxHeaderFieldCount: limits.maxHeaderFields)
        let configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ClientDisconnectHandler()],
            idleTimeout: limits.idleTimeout.map { TimeAmount($0) },
            httpDecoderConfiguration: decoder)
        self.base = HTTP1Channel(responder: responder, configuration: configuration)
        self.gate = gate
        self.logger = logger
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let (admitted, refused) = gate.enter()
        if admitted {
            TCPKeepalive.enable(on: channel)
            let gate = gate
            channel.closeFuture.whenComplete { _ in gate.leave() }
        } else if refused == 1 || refused % 100 == 0 {
            self.logger.warning("connection refused: the listener already has its maximum of open connections",
                                metadata: ["http.max_connections": "\(gate.limit)", "http.refused": "\(refused)"])
        }
        // The pipeline is set up either way, so the server's accept loop sees a normal child
        // (a failed setup would reach the server channel as an error and stop it); an excess
        // connection is then closed before it is read.
        return base.setup(channel: channel, logger: logger).map { value in
            if !admitted { channel.close(promise: nil) }
            return value
        }
    }

    /// Serves the connection's requests, one after another, in this task: ``ConnectionPeer``
    /// remembers its client certificate for all of them.
    public func handle(value: Value, logger: Logger) async {
        await ConnectionPeer.$current.withValue(ConnectionPeer()) {
            await base.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 under `limits`, counting connections in `gate`.
    public static func limited(_ limits: ListenerLimits, gate: ConnectionGate, logger: Logger) -> HTTPServerBuilder {
        .init { responder in LimitedHTTP1Channel(responder: responder, limits: limits, gate: gate, logger: logger) }
    }
}
