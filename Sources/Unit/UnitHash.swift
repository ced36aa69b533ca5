import Crypto

/// The SHA-1 of a unit's normalized text: how fleet names unit contents in the registry and in `list-unit-files`.
///
/// Two files that differ only in comments, blank lines or spacing get the same hash, so re-submitting a
/// reformatted file is not a change.
public struct UnitHash: Hashable, Sendable, CustomStringConvertible {
    /// The 20 digest bytes.
    public let bytes: [UInt8]

    /// Wraps exactly 20 bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Insecure.SHA1.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses 40 hex digits (either case), as stored in the registry; `nil` for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Insecure.SHA1.byteCount else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Insecure.SHA1.byteCount)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    /// The SHA-1 of `data`.
    public init(hashing data: some Sequence<UInt8>) {
        self.bytes = Array(Insecure.SHA1.hash(data: Array(data)))
    }

    /// 40 lowercase hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first 7 hex digits, as `list-unit-files` shows them.
    public var short: String { String(hex.prefix(7)) }

    public var description: String { hex }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension UnitHash: Codable {
    /// Decodes the 40-digit hex string fleet stores.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let hash = UnitHash(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected 40 hex digits of a SHA-1 unit hash, got \(GoQuoting.quoted(text))")
        }
        self = hash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
