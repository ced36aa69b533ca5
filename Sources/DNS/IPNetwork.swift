import NIOCore

#if canImport(Glibc)
@preconcurrency import Glibc
#else
import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR form (`10.77.0.0/24`, `fd00::/8`, or one address): who may
/// use fleet-dns's forwarding, who is exempt from its rate limit.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network's address bytes (4 or 16), host bits cleared.
    let bytes: [UInt8]
    public let prefixLength: Int

    /// `127.0.0.0/8` and `::1/128`.
    public static let loopback: [IPNetwork] = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]

    /// nil unless `text` is an address, optionally followed by `/` and a prefix length that fits it.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddressBytes(String(parts[0])) else { return nil }
        let bytes = address.bytes
        var length = bytes.count * 8
        if parts.count == 2 {
            // At most three digits: no conversion of a long number can trap.
            guard parts[1].count <= 3, let parsed = Int(parts[1]), (0...length).contains(parsed) else { return nil }
            length = parsed
        }
        self.bytes = Self.masked(bytes, to: length)
        self.prefixLength = length
    }

    /// True when `address` lies in this network (an IPv4-mapped IPv6 address as its IPv4 address).
    public func contains(_ address: SocketAddress) -> Bool {
        PackedIPAddress(address).map(contains) ?? false
    }

    /// The same test on an address read from a datagram's source; allocates nothing.
    func contains(_ address: PackedIPAddress) -> Bool {
        guard address.length == bytes.count else { return false }
        var index = 0
        for network in bytes {
            let keep = min(8, max(0, prefixLength - index * 8))
            let mask: UInt8 = keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
            if address.byte(index) & mask != network { return false }
            index += 1
        }
        return true
    }

    public var description: String {
        let address: String
        if bytes.count == 4 {
            address = bytes.map(String.init).joined(separator: ".")
        } else {
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &storage, &text, socklen_t(text.count))
            address = String(cString: text)
        }
        return "\(address)/\(prefixLength)"
    }

    /// The address bytes of `address` (4 for IPv4 and IPv4-mapped IPv6, 16 for IPv6), nil for
    /// a unix socket.
    static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case let .v4(v4):
            var raw = v4.address.sin_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case let .v6(v6):
            var raw = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return Array(bytes[12..<16])
            }
            return bytes
        case .unixDomainSocket:
            return nil
        }
    }

    static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let keep = min(8, max(0, length - index * 8))
            result[index] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return result
    }
}
