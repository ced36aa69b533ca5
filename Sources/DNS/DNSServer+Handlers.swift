import Logging
import NIOCore

/// The zone as one event loop sees it. Every handler on the loop shares it; it is swapped on
/// the loop itself when a new view arrives, so reading it per query needs no lock.
final class ZoneSlot {
    private(set) var view: ZoneView
    /// Picks the shuffled answer variant; one counter per loop is enough to rotate orders.
    var queries = 0

    init(view: ZoneView) {
        self.view = view
    }

    func offer(_ newer: ZoneView) {
        // Views published concurrently could arrive out of order; never go back.
        if newer.generation >= view.generation || !view.isReady { view = newer }
    }
}

@available(*, unavailable)
extension ZoneSlot: Sendable {}

/// Answers datagrams. Replies are written as they are computed and flushed once per read
/// burst (`channelReadComplete`), since with vector reads one burst holds many queries and a
/// flush per packet costs about a third more CPU per query.
final class DNSUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let slot: ZoneSlot
    private let responder: DNSResponder
    private let forwarder: DNSForwarder?
    private let limiter: DNSRateLimiter?
    private let logger: Logger
    private var needsFlush = false
    private var forwardsInFlight = 0

    init(slot: ZoneSlot, responder: DNSResponder, forwarder: DNSForwarder?, limiter: DNSRateLimiter?, logger: Logger) {
        self.slot = slot
        self.responder = responder
        self.forwarder = forwarder
        self.limiter = limiter
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        slot.queries &+= 1
        if let limiter {
            switch limiter.admit(envelope.remoteAddress, now: NIODeadline.now().uptimeNanoseconds) {
            case .answer:
                break
            case .drop:
                return
            case .slip:
                let slip = envelope.data.withUnsafeReadableBytes {
                    responder.slipReply(to: $0, allocator: context.channel.allocator)
                }
                if let slip {
                    context.write(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: slip)),
                                  promise: nil)
                    needsFlush = true
                }
                return
            }
        }
        let outcome = envelope.data.withUnsafeReadableBytes {
            responder.respond(to: $0, zone: slot.view, transport: .udp, variant: slot.queries,
                              allocator: context.channel.allocator)
        }
        switch outcome {
        case .drop:
            return
        case let .reply(buffer):
            context.write(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)),
                          promise: nil)
            needsFlush = true
        case .forward:
            relay(envelope, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket outlives errors (ICMP unreachable for a departed asker, a refused write);
        // closing it would stop answering everyone.
        logger.debug("DNS UDP socket error", metadata: ["dns.error": "\(error)"])
    }

    private func relay(_ envelope: AddressedEnvelope<ByteBuffer>, context: ChannelHandlerContext) {
        let remote = envelope.remoteAddress
        guard let forwarder, forwarder.allows(remote) else {
            reply(to: envelope.data, rcode: .refused, remote: remote, context: context)
            return
        }
        guard forwardsInFlight < forwarder.maxInFlight else {
            reply(to: envelope.data, rcode: .serverFailure, remote: remote, context: context)
            return
        }
        forwardsInFlight += 1
        // A copy: the datagram is a slice of the whole vector-read buffer, which it would keep
        // alive for as long as the upstream takes.
        var query = context.channel.allocator.buffer(capacity: envelope.data.readableBytes)
        query.writeImmutableBuffer(envelope.data)
        forwarder.forward(query, on: context.eventLoop).assumeIsolated().whenComplete { result in
            self.forwardsInFlight -= 1
            switch result {
            case let .success(answer):
                context.writeAndFlush(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: answer)),
                                      promise: nil)
            case let .failure(error):
                self.logger.debug("DNS forwarding failed", metadata: ["dns.error": "\(error)"])
                self.reply(to: query, rcode: .serverFailure, remote: remote, context: context)
            }
        }
    }

    private func reply(to query: ByteBuffer, rcode: DNSResponseCode, remote: SocketAddress, context: ChannelHandlerContext) {
        let answer = query.withUnsafeReadableBytes {
            responder.errorReply(to: $0, rcode: rcode, transport: .udp, allocator: context.channel.allocator)
        }
        guard let answer else { return }
        context.writeAndFlush(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: answer)), promise: nil)
    }
}

/// Splits a TCP stream into DNS messages, each preceded by its two-byte length (RFC 1035 §4.2.2).
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial message at EOF can never be answered; complete ones still are.
        try decode(context: context, buffer: &buffer)
    }
}

/// Answers the messages of one TCP connection. Several queries may be pipelined (RFC 7766);
/// relayed ones may be answered out of order, which RFC 7766 §7 allows.
final class DNSTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let slot: ZoneSlot
    private let responder: DNSResponder
    private let forwarder: DNSForwarder?
    private var needsFlush = false
    private var forwardsInFlight = 0
    private var inputClosed = false
    private var lastWrite: EventLoopFuture<Void>?

    init(slot: ZoneSlot, responder: DNSResponder, forwarder: DNSForwarder?) {
        self.slot = slot
        self.responder = responder
        self.forwarder = forwarder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let query = Self.unwrapInboundIn(data)
        slot.queries &+= 1
        let outcome = query.withUnsafeReadableBytes {
            responder.respond(to: $0, zone: slot.view, transport: .tcp, variant: slot.queries,
                              allocator: context.channel.allocator)
        }
        switch outcome {
        case .drop:
            return
        case let .reply(buffer):
            lastWrite = context.write(Self.wrapOutboundOut(buffer))
            needsFlush = true
        case .forward:
            relay(query, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)  // an idle connection holds a descriptor for nothing
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // The asker sent all it will: answer what is pending, then close.
            inputClosed = true
            closeIfDone(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        guard inputClosed, forwardsInFlight == 0 else { return }
        context.flush()
        guard let lastWrite else {
            context.close(promise: nil)
            return
        }
        lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func relay(_ query: ByteBuffer, context: ChannelHandlerContext) {
        guard let forwarder, let remote = context.channel.remoteAddress, forwarder.allows(remote) else {
            reply(to: query, rcode: .refused, context: context)
            return
        }
        guard forwardsInFlight < forwarder.maxInFlight else {
            reply(to: query, rcode: .serverFailure, context: context)
            return
        }
        forwardsInFlight += 1
        forwarder.forward(query, on: context.eventLoop).assumeIsolated().whenComplete { result in
            self.forwardsInFlight -= 1
            switch result {
            case let .success(answer) where answer.readableBytes > Int(UInt16.max):
                // Cannot be framed (the length prefix is 16 bits); no upstream should send it.
                self.reply(to: query, rcode: .serverFailure, context: context)
            case let .success(answer):
                var framed = context.channel.allocator.buffer(capacity: answer.readableBytes + 2)
                framed.writeInteger(UInt16(answer.readableBytes))
                framed.writeImmutableBuffer(answer)
                self.lastWrite = context.writeAndFlush(Self.wrapOutboundOut(framed))
            case .failure:
                self.reply(to: query, rcode: .serverFailure, context: context)
            }
            self.closeIfDone(context: context)
        }
    }

    private func reply(to query: ByteBuffer, rcode: DNSResponseCode, context: ChannelHandlerContext) {
        let answer = query.withUnsafeReadableBytes {
            responder.errorReply(to: $0, rcode: rcode, transport: .tcp, allocator: context.channel.allocator)
        }
        guard let answer else { return }
        lastWrite = context.writeAndFlush(Self.wrapOutboundOut(answer))
    }
}
