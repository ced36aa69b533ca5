import FleetHTTPServer
import FleetIdentity
import FleetStoreHTTP
import Hummingbird
import NIOCore

/// The request context of fleetd's listeners: Hummingbird's basic context plus the channel, so
/// a streaming response (`journal?follow=true`, a keys-API watch) can notice its client left,
/// and, on a TLS listener, who the client is (``peer``, set by ``PeerIdentityMiddleware``).
public struct FleetRequestContext: RequestContext, ConnectionAwareContext, ParsedBatchContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: (any Channel)?
    /// The role and machine ID of the client's certificate, checked against the cluster CA in
    /// the handshake; nil on the unix socket and on plain-HTTP listeners.
    public var peer: PeerIdentity?
    /// A batch's writes, parsed by ``RoleMiddleware`` to judge them, for the batch route.
    public var parsedBatch: [KeysBatchWrite]?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        peer = nil
        parsedBatch = nil
    }
}
