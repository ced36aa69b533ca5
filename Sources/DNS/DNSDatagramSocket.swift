import CBatchedSockets
import NIOCore
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#else
import Darwin
#endif

/// A UDP socket of the batched listener, opened with plain system calls.
///
/// The listener's thread reads and writes it with `recvmmsg`/`sendmmsg` while it is open; a
/// relayed answer arrives later on an event loop and is sent with ``send(_:to:)``. The lock
/// orders those late sends against ``close()``, so a send never lands on a descriptor number
/// the process has since reused for something else.
final class DNSDatagramSocket: Sendable {
    let descriptor: Int32
    let localAddress: SocketAddress
    private let open = Mutex(true)

    /// Binds a new socket to `address` with SO_REUSEPORT (every socket of the listener shares
    /// the port and the kernel spreads askers over them) and a receive buffer of `receiveBufferBytes`.
    init(binding address: SocketAddress, receiveBufferBytes: Int) throws {
        let family: Int32 = address.protocol == .inet6 ? AF_INET6 : AF_INET
        #if canImport(Glibc)
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_DGRAM
        #endif
        let descriptor = socket(family, type, 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        do {
            try Self.set(descriptor, SOL_SOCKET, SO_REUSEADDR, 1)
            try Self.set(descriptor, SOL_SOCKET, SO_REUSEPORT, 1)
            try Self.set(descriptor, SOL_SOCKET, SO_RCVBUF, Int32(clamping: receiveBufferBytes))
            // A safety net for stopping: a blocked receive returns after this at the latest,
            // even on a kernel where shutting the receiving side would not wake it. Long, so an
            // idle listener wakes only this often (Linux's shutdown wakes it at once).
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            guard setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw IOError(errnoCode: errno, reason: "setsockopt")
            }
            let bound = address.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
            guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind") }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard named == 0 else { throw IOError(errnoCode: errno, reason: "getsockname") }
            localAddress = try Self.address(storage)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
        self.descriptor = descriptor
    }

    /// Sends one datagram unless the socket is closed; a full send buffer or an unreachable
    /// asker loses it, as UDP may.
    func send(_ datagram: ByteBuffer, to destination: sockaddr_storage, length: socklen_t) {
        open.withLock { open in
            guard open else { return }
            var destination = destination
            datagram.withUnsafeReadableBytes { bytes in
                withUnsafePointer(to: &destination) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        _ = sendto(descriptor, bytes.baseAddress, bytes.count, fleet_msg_dontwait, $0, length)
                    }
                }
            }
        }
    }

    /// Wakes a thread blocked receiving on the socket: Linux lets `shutdown` mark even an
    /// unconnected UDP socket, and its waiting readers return (it reports ENOTCONN all the same).
    func shutdownReceiving() {
        open.withLock { open in
            guard open else { return }
            _ = shutdown(descriptor, Int32(SHUT_RD))
        }
    }

    func close() {
        open.withLock { open in
            guard open else { return }
            open = false
            _ = Glibc.close(descriptor)
        }
    }

    private static func set(_ descriptor: Int32, _ level: Int32, _ option: Int32, _ value: Int32) throws {
        var value = value
        guard setsockopt(descriptor, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw IOError(errnoCode: errno, reason: "setsockopt")
        }
    }

    private static func address(_ storage: sockaddr_storage) throws -> SocketAddress {
        let family = Int32(storage.ss_family)
        return try withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET: return SocketAddress(raw.loadUnaligned(as: sockaddr_in.self), host: "")
            case AF_INET6: return SocketAddress(raw.loadUnaligned(as: sockaddr_in6.self), host: "")
            default: throw IOError(errnoCode: EAFNOSUPPORT, reason: "getsockname")
            }
        }
    }
}
