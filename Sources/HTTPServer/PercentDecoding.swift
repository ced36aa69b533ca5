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
        // Query values and form bodies arrive as substrings of one request string; their bytes
        // are contiguous, so the loop reads a buffer rather than a generic UTF-8 view (the
        // store's fleetd decodes every agent's form-encoded state this way: 2.4 % of its CPU
        // in a start of 200 through the view).
        if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode($0, plusAsSpace: plusAsSpace) }) {
            return decoded.map { $0 ?? String(text) }
        }
        var copy = String(text)
        return copy.withUTF8 { decode($0, plusAsSpace: plusAsSpace) }.map { $0 ?? copy }
    }

    /// The decoded text; `.some(nil)` when there is nothing to decode (the caller keeps its
    /// text), nil when the text is not valid percent-encoding of UTF-8.
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, plusAsSpace: Bool) -> String?? {
        guard let first = bytes.firstIndex(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) })
        else { return .some(nil) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        out.append(contentsOf: bytes[..<first])
        var index = first
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
                continue
            case UInt8(ascii: "+") where plusAsSpace:
                out.append(UInt8(ascii: " "))
            default:
                out.append(byte)
            }
            index += 1
        }
        return String(validating: out, as: UTF8.self).map { .some($0) } ?? nil
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
