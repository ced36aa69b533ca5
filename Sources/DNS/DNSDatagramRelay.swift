import NIOCore
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#else
import Darwin
#endif

/// Relays the batched listener's outside names through a ``DNSForwarder`` on an event loop and
/// sends the upstream's answer (or SERVFAIL) back on the socket the query came in on.
///
/// Relaying allocates (a copy of the query, the forwarder's channel); it is off the zone's path.
final class DNSDatagramRelay: Sendable {
    let forwarder: DNSForwarder
    private let eventLoop: any EventLoop
    private let inFlight = Atomic<Int>(0)

    init(forwarder: DNSForwarder, eventLoop: any EventLoop) {
        self.forwarder = forwarder
        self.eventLoop = eventLoop
    }

    /// Starts relaying `query`; false when ``DNSForwarder/maxInFlight`` relays are already
    /// under way (the caller answers SERVFAIL), so a flood of outside names cannot use up
    /// descriptors.
    func relay(_ query: UnsafeRawBufferPointer, to asker: sockaddr_storage, length: socklen_t,
               over socket: DNSDatagramSocket, responder: DNSResponder) -> Bool {
        let started = inFlight.wrappingAdd(1, ordering: .relaxed).newValue
        guard started <= forwarder.maxInFlight else {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        let copy = ByteBuffer(bytes: query)
        forwarder.forward(copy, on: eventLoop).whenComplete { result in
            self.inFlight.wrappingSubtract(1, ordering: .relaxed)
            switch result {
            case let .success(answer):
                socket.send(answer, to: asker, length: length)
            case .failure:
                let failed = copy.withUnsafeReadableBytes {
                    responder.errorReply(to: $0, rcode: .serverFailure, transport: .udp, allocator: ByteBufferAllocator())
                }
                if let failed { socket.send(failed, to: asker, length: length) }
            }
        }
        return true
    }
}
