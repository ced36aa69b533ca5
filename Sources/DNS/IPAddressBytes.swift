#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address parsed from a record's `address` text, in the byte form DNS carries.
enum IPAddressBytes: Hashable, Sendable, Comparable {
    case v4(IPv4Bytes)
    case v6(IPv6Bytes)

    /// nil for anything `inet_pton` does not take (names, zone indices like `fe80::1%eth0`).
    init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let b = withUnsafeBytes(of: &v4) { Array($0) }
            self = .v4(IPv4Bytes(b[0], b[1], b[2], b[3]))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            // An IPv4-mapped IPv6 address is the IPv4 address as far as DNS answers go.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                self = .v4(IPv4Bytes(bytes[12], bytes[13], bytes[14], bytes[15]))
            } else {
                self = .v6(IPv6Bytes(bytes)!)
            }
            return
        }
        return nil
    }

    var bytes: [UInt8] {
        switch self {
        case let .v4(address): address.array
        case let .v6(address): address.array
        }
    }

    var recordData: DNSRecordData {
        switch self {
        case let .v4(address): .a(address)
        case let .v6(address): .aaaa(address)
        }
    }

    /// `4.3.2.1.in-addr.arpa.` or the nibble form under `ip6.arpa.` (RFC 3596 §2.5).
    var reverseName: DNSName {
        switch self {
        case let .v4(address):
            return DNSName(uncheckedLabels: address.array.reversed().map { Array(String($0).utf8) }
                + [Array("in-addr".utf8), Array("arpa".utf8)])
        case let .v6(address):
            let hex = Array("0123456789abcdef".utf8)
            var labels: [[UInt8]] = []
            for byte in address.array.reversed() {
                labels.append([hex[Int(byte & 0x0F)]])
                labels.append([hex[Int(byte >> 4)]])
            }
            return DNSName(uncheckedLabels: labels + [Array("ip6".utf8), Array("arpa".utf8)])
        }
    }

    static func < (lhs: IPAddressBytes, rhs: IPAddressBytes) -> Bool {
        if case let .v4(l) = lhs, case let .v4(r) = rhs { return l.packed < r.packed }  // no arrays: sorts call this a lot
        return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}
