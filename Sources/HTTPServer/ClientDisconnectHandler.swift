import NIOCore

/// Notices that a connection's client went away while a response is still being written.
///
/// fleetd's listeners allow half-closed connections (Hummingbird's default), so a client that
/// exits sends a FIN that closes only our input: the channel stays open, and a long-poll that
/// waits for the store's next event would notice nothing until it writes, perhaps never. This
/// handler sees the input close (or the channel go inactive) and completes ``gone``, which
/// streaming responses observe through ``NIOCore/Channel/clientGone``.
///
/// A plain request whose client half-closes after sending it still gets its answer: only
/// responses that wait on ``gone`` end early, as Go's net/http (and so etcd) cancels the
/// request's context on a read EOF.
final class ClientDisconnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny

    private(set) var gone: EventLoopPromise<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        gone = context.eventLoop.makePromise(of: Void.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        gone?.succeed()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            gone?.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone?.succeed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        gone?.succeed()
        context.fireErrorCaught(error)
    }
}

extension Channel {
    /// Completes when the client has gone: its side of the connection closed (a FIN) or the
    /// connection closed entirely. Falls back to ``closeFuture`` on a channel without a
    /// ``ClientDisconnectHandler`` (a test server).
    public var clientGone: EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let handler = try? self.pipeline.syncOperations.handler(type: ClientDisconnectHandler.self)
            return handler?.gone?.futureResult ?? self.closeFuture
        }
    }
}
