/// Percent-decoding of request paths and query values, as Foundation's
/// `removingPercentEncoding` does it, without Foundation.
///
/// Every keys API request decodes its path (the role check, then the keys API itself) and its
/// query values; through Foundation each call crossed into CoreFoundation even with nothing to
/// decode, which showed in the profile of the store's idle fleetd (about 4 % of its CPU).
public enum PercentDecoding {
    /// `text` with each `%XX` replaced by the byte it names (and each `+` by a space when
    /// `plusAsSpace`, as in a form-encoded query), read as UTF-8. nil when a `%` is not followed
    /// by two hex digits or the bytes are not UTF-8, as Foundation answers (except that Foundation
    /// makes a lone continuation byte, `%80` to `%BF`, U+FFFD: here it is refused like every
    /// other invalid sequence, so the caller keeps the text undecoded).
    public static func decode(_ text: some StringProtocol, plusAsSpace: Bool = false) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusAsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
