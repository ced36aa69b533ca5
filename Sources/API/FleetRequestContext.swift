import FleetHTTPServer
import Hummingbird
import NIOCore

/// The request context of fleetd's listeners: Hummingbird's basic context plus the channel, so
/// a streaming response (`journal?follow=true`, a keys-API watch) can notice its client left.
public struct FleetRequestContext: RequestContext, ConnectionAwareContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
