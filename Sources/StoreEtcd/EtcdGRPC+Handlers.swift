import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOSSL
import NIOTLS

/// Completes `promise` with the protocol ALPN agreed on once the TLS handshake is done, or with
/// the error that ended it; keeps a TLS error that ends the connection later.
final class HandshakeWaiter: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used only on its connection's event loop.
    typealias InboundIn = Any
    let promise: EventLoopPromise<String?>
    let failure: EtcdGRPC.TLSFailure

    init(promise: EventLoopPromise<String?>, failure: EtcdGRPC.TLSFailure) {
        self.promise = promise
        self.failure = failure
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
            promise.succeed(negotiated)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError { failure.error.withLock { $0 = error } }
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(EtcdGRPC.Failure.notSent("connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(EtcdGRPC.Failure.notSent("connection closed during the TLS handshake"))
    }
}

/// One gRPC unary call on its own HTTP/2 stream: sends the request at once, gathers the answer,
/// and completes `promise` with the answer's message or the call's failure.
final class UnaryCallHandler: ChannelDuplexHandler, @unchecked Sendable {
    // @unchecked: used only on its stream channel's event loop.
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = Never
    typealias OutboundOut = HTTP2Frame.FramePayload

    let method: String
    let scheme: String
    let authority: String
    let message: ByteBuffer
    let promise: EventLoopPromise<ByteBuffer>
    private var body: ByteBuffer?
    private var headersSeen = false
    private var httpStatus = ""

    init(method: String, scheme: String, authority: String, message: ByteBuffer, promise: EventLoopPromise<ByteBuffer>) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.message = message
        self.promise = promise
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context)
        context.fireChannelActive()
    }

    private var sent = false

    private func send(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let headers = EtcdGRPC.requestHeaders(method: method, scheme: scheme, authority: authority)
        context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(EtcdGRPC.framed(message)), endStream: true))),
                              promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if !headersSeen {
                headersSeen = true
                httpStatus = frame.headers.first(name: ":status") ?? ""
                // A trailers-only answer (how gRPC sends most errors) ends here.
                if frame.endStream { finish(context, trailers: frame.headers) }
            } else {
                finish(context, trailers: frame.headers)
            }
        case .data(let frame):
            if case .byteBuffer(var chunk) = frame.data {
                if (body?.readableBytes ?? 0) + chunk.readableBytes > EtcdGRPC.maxMessageBytes + 5 {
                    fail(context, .broken("answer larger than \(EtcdGRPC.maxMessageBytes) bytes"))
                    return
                }
                if body == nil { body = chunk } else { body?.writeBuffer(&chunk) }
            }
            if frame.endStream { fail(context, .broken("answer ended without gRPC trailers")) }
        default:
            break
        }
    }

    private func finish(_ context: ChannelHandlerContext, trailers: HPACKHeaders) {
        guard httpStatus == "200" else {
            fail(context, .broken("HTTP status \(httpStatus)"))
            return
        }
        guard let status = trailers.first(name: "grpc-status").flatMap({ Int($0) }) else {
            fail(context, .broken("answer without grpc-status"))
            return
        }
        guard status == 0 else {
            let text = trailers.first(name: "grpc-message").map { $0.removingPercentEncoding ?? $0 } ?? ""
            fail(context, .status(code: status, message: text))
            return
        }
        guard var body, let compressed = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self),
              compressed == 0, let message = body.readSlice(length: Int(length))
        else {
            fail(context, .broken("malformed gRPC message"))
            return
        }
        promise.succeed(message)
        context.close(promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ failure: EtcdGRPC.Failure) {
        promise.fail(failure)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, .broken("\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Only a promise's first result counts; after an answer this changes nothing.
        promise.fail(EtcdGRPC.Failure.broken("stream closed before the answer"))
        context.fireChannelInactive()
    }
}

/// Notes when the connection last read anything from the member: a call that times out on a
/// connection that has read nothing since the call was sent is taken as a sign of a dead or cut
/// off member (the connection is closed); otherwise only the call's stream is.
final class ReadActivityRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any
    let activity: EtcdGRPC.ReadActivity

    init(activity: EtcdGRPC.ReadActivity) { self.activity = activity }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        activity.noteRead()
        context.fireChannelRead(data)
    }
}
