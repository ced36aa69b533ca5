import CBatchedSockets
import NIOCore
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#else
import Darwin
#endif

/// Receive, answer, send for one UDP socket, on a thread of its own: up to `depth` queries per
/// `recvmmsg`, their replies in one `sendmmsg`.
///
/// Every buffer is made once, here: the datagrams, their source addresses, the replies and the
/// message headers pointing at them. A query in the zone is answered into its reply slot by
/// ``DNSResponder`` without allocating, so the steady state allocates nothing (the
/// `dns-allocations` stage counts it). Only a relayed query allocates, off this thread's path.
///
/// Not thread-safe: one thread runs ``run(until:)``; the listener hands it over at start.
final class DNSDatagramLoop: @unchecked Sendable {
    struct Settings {
        var depth: Int
        var receiveBytes: Int
        var replyBytes: Int
    }

    private let socket: DNSDatagramSocket
    private let settings: Settings
    private let zone: ZoneCell
    private let responder: DNSResponder
    private let limiter: DNSRateLimiter?
    private let relay: DNSDatagramRelay?

    private let received: UnsafeMutableRawBufferPointer
    private let replies: UnsafeMutableRawBufferPointer
    private let sources: UnsafeMutablePointer<sockaddr_storage>
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let replyVectors: UnsafeMutablePointer<iovec>
    private let receiveHeaders: UnsafeMutablePointer<fleet_mmsghdr>
    private let replyHeaders: UnsafeMutablePointer<fleet_mmsghdr>
    /// Picks the shuffled answer variant; advancing per query rotates the orders.
    private var variant = 0

    init(socket: DNSDatagramSocket, settings: Settings, zone: ZoneCell, responder: DNSResponder,
         limiter: DNSRateLimiter?, relay: DNSDatagramRelay?) {
        self.socket = socket
        self.settings = settings
        self.zone = zone
        self.responder = responder
        self.limiter = limiter
        self.relay = relay
        let depth = settings.depth
        received = .allocate(byteCount: depth * settings.receiveBytes, alignment: 16)
        replies = .allocate(byteCount: depth * settings.replyBytes, alignment: 16)
        sources = .allocate(capacity: depth)
        receiveVectors = .allocate(capacity: depth)
        replyVectors = .allocate(capacity: depth)
        receiveHeaders = .allocate(capacity: depth)
        replyHeaders = .allocate(capacity: depth)
        sources.initialize(repeating: sockaddr_storage(), count: depth)
        replyVectors.initialize(repeating: iovec(), count: depth)
        replyHeaders.initialize(repeating: fleet_mmsghdr(), count: depth)
        for index in 0..<depth {
            receiveVectors[index] = iovec(iov_base: received.baseAddress! + index * settings.receiveBytes,
                                          iov_len: settings.receiveBytes)
            var header = fleet_mmsghdr()
            header.msg_hdr.msg_name = UnsafeMutableRawPointer(sources + index)
            header.msg_hdr.msg_iov = receiveVectors + index
            header.msg_hdr.msg_iovlen = 1
            receiveHeaders[index] = header
        }
    }

    deinit {
        received.deallocate()
        replies.deallocate()
        sources.deallocate()
        receiveVectors.deallocate()
        replyVectors.deallocate()
        receiveHeaders.deallocate()
        replyHeaders.deallocate()
    }

    /// Answers until `stop` is set (the listener then shuts the socket's receiving side, which
    /// wakes a waiting `recvmmsg`) or the socket fails for good.
    ///
    /// `MSG_WAITFORONE` blocks until one datagram is there, then takes what else is queued
    /// without waiting: one system call per batch, and none while idle.
    func run(until stop: DNSDatagramStop) {
        let descriptor = socket.descriptor
        while !stop.isSet {
            for index in 0..<settings.depth {
                receiveHeaders[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                receiveHeaders[index].msg_hdr.msg_flags = 0
            }
            let count = fleet_recvmmsg(descriptor, receiveHeaders, UInt32(settings.depth), fleet_msg_waitforone)
            if count > 0 {
                guard !stop.isSet else { return }  // after a shutdown, empty "datagrams" come back
                send(answer(Int(count)))
            } else if count < 0 {
                switch errno {
                case EBADF, ENOTSOCK, EINVAL, EFAULT:
                    return  // the socket is gone; nothing more will arrive
                default:
                    continue  // the receive timeout, EINTR, or an ICMP error for an earlier reply
                }
            }
        }
    }

    /// Answers the first `count` received datagrams into reply slots; returns how many replies.
    private func answer(_ count: Int) -> Int {
        let view = zone.current
        let now = limiter == nil ? 0 : NIODeadline.now().uptimeNanoseconds
        var staged = 0
        for index in 0..<count {
            let length = min(Int(receiveHeaders[index].msg_len), settings.receiveBytes)
            let query = UnsafeRawBufferPointer(start: received.baseAddress! + index * settings.receiveBytes, count: length)
            let room = UnsafeMutableRawBufferPointer(start: replies.baseAddress! + staged * settings.replyBytes,
                                                     count: settings.replyBytes)
            let source = sources + index
            let sourceLength = receiveHeaders[index].msg_hdr.msg_namelen
            let asker = PackedIPAddress(source, length: sourceLength)
            variant &+= 1
            var written: Int?
            switch asker.map({ limiter?.admit($0, now: now) ?? .answer }) ?? .answer {
            case .drop:
                continue
            case .slip:
                written = responder.slipReply(to: query, into: room)
            case .answer:
                switch responder.respond(to: query, zone: view, transport: .udp, variant: variant, into: room) {
                case .drop:
                    break
                case let .reply(length):
                    written = length
                case .forward:
                    written = relayOrRefuse(query, from: source, length: sourceLength, asker: asker, room: room)
                }
            }
            guard let written else { continue }
            replyVectors[staged] = iovec(iov_base: room.baseAddress, iov_len: written)
            var header = fleet_mmsghdr()
            header.msg_hdr.msg_name = UnsafeMutableRawPointer(source)
            header.msg_hdr.msg_namelen = sourceLength
            header.msg_hdr.msg_iov = replyVectors + staged
            header.msg_hdr.msg_iovlen = 1
            replyHeaders[staged] = header
            staged += 1
        }
        return staged
    }

    /// Hands an outside name to the relay; answers REFUSED to an asker not allowed to use it
    /// and SERVFAIL when too many relays are in flight (the length of that reply, else nil).
    private func relayOrRefuse(_ query: UnsafeRawBufferPointer, from source: UnsafePointer<sockaddr_storage>,
                               length: socklen_t, asker: PackedIPAddress?, room: UnsafeMutableRawBufferPointer) -> Int? {
        guard let relay, let asker, relay.forwarder.allows(asker) else {
            return responder.errorReply(to: query, rcode: .refused, transport: .udp, into: room)
        }
        guard relay.relay(query, to: source.pointee, length: length, over: socket, responder: responder) else {
            return responder.errorReply(to: query, rcode: .serverFailure, transport: .udp, into: room)
        }
        return nil
    }

    /// Sends the staged replies; a reply that cannot go (its asker unreachable) is skipped, and
    /// with the send buffer full the loop waits a moment once, then lets the rest go, as UDP may.
    private func send(_ count: Int) {
        var sent = 0
        var waited = false
        while sent < count {
            let result = fleet_sendmmsg(socket.descriptor, replyHeaders + sent, UInt32(count - sent), fleet_msg_dontwait)
            if result > 0 {
                sent += Int(result)
                continue
            }
            guard result < 0 else { return }  // nothing sent and no error: errno would be stale
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                guard !waited else { return }
                waited = true
                waitForRoom(milliseconds: 5)
            default:
                sent += 1
            }
        }
    }

    /// Waits until the socket's send buffer has room, or `milliseconds` pass.
    private func waitForRoom(milliseconds: Int32) {
        var entry = pollfd(fd: socket.descriptor, events: Int16(POLLOUT), revents: 0)
        _ = poll(&entry, 1, milliseconds)
    }
}

/// Tells the listener's loops to return; set before their sockets' receiving sides are shut.
final class DNSDatagramStop: Sendable {
    private let flag = Atomic(false)

    var isSet: Bool { flag.load(ordering: .acquiring) }

    func set() {
        flag.store(true, ordering: .releasing)
    }
}
