import NIOCore

#if canImport(Glibc)
@preconcurrency import Glibc
#else
import Darwin
#endif

/// An IPv4 or IPv6 address in two words, read from a socket address without allocating: what
/// the rate limit and the forwarding allow-list check on every datagram.
///
/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports for an IPv4
/// asker) is held as the IPv4 address, so one network matches both.
struct PackedIPAddress: Hashable, Sendable {
    /// 4 or 16.
    let length: Int
    /// The first eight address bytes, big-endian (an IPv4 address in the top four).
    let high: UInt64
    /// The last eight bytes of an IPv6 address; 0 for IPv4.
    let low: UInt64

    init(ipv4 address: in_addr) {
        length = 4
        high = UInt64(UInt32(bigEndian: address.s_addr)) << 32
        low = 0
    }

    init(ipv6 address: in6_addr) {
        var high: UInt64 = 0, low: UInt64 = 0
        withUnsafeBytes(of: address) { bytes in
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        }
        if high == 0 && low >> 32 == 0xFFFF {
            self.length = 4
            self.high = (low & 0xFFFF_FFFF) << 32
            self.low = 0
        } else {
            self.length = 16
            self.high = high
            self.low = low
        }
    }

    /// nil for a unix socket.
    init?(_ address: SocketAddress) {
        switch address {
        case let .v4(v4): self.init(ipv4: v4.address.sin_addr)
        case let .v6(v6): self.init(ipv6: v6.address.sin6_addr)
        case .unixDomainSocket: return nil
        }
    }

    /// The source a datagram came from, as `recvmsg` filled it in; nil for a family other than
    /// IPv4 and IPv6 or a length too short for the family.
    init?(_ storage: UnsafePointer<sockaddr_storage>, length: socklen_t) {
        let raw = UnsafeRawPointer(storage)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET where Int(length) >= MemoryLayout<sockaddr_in>.size:
            self.init(ipv4: raw.loadUnaligned(as: sockaddr_in.self).sin_addr)
        case AF_INET6 where Int(length) >= MemoryLayout<sockaddr_in6>.size:
            self.init(ipv6: raw.loadUnaligned(as: sockaddr_in6.self).sin6_addr)
        default:
            return nil
        }
    }

    /// Byte `index` of the address (0 ..< length).
    @inline(__always)
    func byte(_ index: Int) -> UInt8 {
        let word = index < 8 ? high : low
        return UInt8(truncatingIfNeeded: word >> (8 * (7 - index % 8)))
    }
}
