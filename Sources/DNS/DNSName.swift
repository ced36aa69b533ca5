/// A domain name as DNS carries it: a sequence of labels of 1–63 bytes each, at most 255 bytes
/// in wire form (label lengths, labels and the final zero byte).
///
/// Labels keep the case they were given (a response echoes the asker's case), but equality and
/// hashing ignore ASCII case, because DNS names compare case-insensitively (RFC 4343).
public struct DNSName: Sendable, CustomStringConvertible {
    /// The labels, most specific first; the root name has none.
    public private(set) var labels: [[UInt8]]

    public static let root = DNSName(uncheckedLabels: [])
    public static let maxWireLength = 255
    public static let maxLabelLength = 63

    init(uncheckedLabels: [[UInt8]]) {
        self.labels = uncheckedLabels
    }

    /// A name from labels; nil when a label is empty or too long, or the whole name too long.
    public init?(labels: [[UInt8]]) {
        var length = 1
        for label in labels {
            guard !label.isEmpty, label.count <= Self.maxLabelLength else { return nil }
            length += 1 + label.count
        }
        guard length <= Self.maxWireLength else { return nil }
        self.labels = labels
    }

    /// A name in presentation form (`web.fleet.` or `web.fleet`; always taken as absolute).
    /// `\.` and `\\` escape a character, `\DDD` gives a byte in decimal, as in zone files.
    public init?(_ text: String) {
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        if bytes == [UInt8(ascii: ".")] { bytes = [] }
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "."):
                guard !current.isEmpty else { return nil }  // `a..b` or a leading dot
                labels.append(current)
                current = []
            case UInt8(ascii: "\\"):
                guard let next = bytes.popFirst() else { return nil }
                if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next) {
                    guard bytes.count >= 2 else { return nil }
                    let digits = [next, bytes.removeFirst(), bytes.removeFirst()]
                    guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
                    let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
                    guard value <= 255 else { return nil }
                    current.append(UInt8(value))
                } else {
                    current.append(next)
                }
            default:
                current.append(byte)
            }
        }
        if !current.isEmpty { labels.append(current) }
        self.init(labels: labels)
    }

    /// Bytes in uncompressed wire form (length-prefixed labels and the closing zero).
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// The uncompressed wire form, in the name's own case.
    public var wire: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(wireLength)
        for label in labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        return bytes
    }

    /// The same name in ASCII lower case: the form zone tables are keyed by.
    public func lowercased() -> DNSName {
        DNSName(uncheckedLabels: labels.map { $0.map(DNSName.asciiLower) })
    }

    public var isRoot: Bool { labels.isEmpty }

    /// The name without its first label (the root's parent is the root).
    public var parent: DNSName { DNSName(uncheckedLabels: Array(labels.dropFirst())) }

    /// The name made of the last `count` labels.
    public func suffix(_ count: Int) -> DNSName { DNSName(uncheckedLabels: Array(labels.suffix(count))) }

    /// True when this name is `other` or lies below it.
    public func isSubdomain(of other: DNSName) -> Bool {
        guard labels.count >= other.labels.count else { return false }
        return suffix(other.labels.count) == other
    }

    /// `label` + `.` + this name; nil when the result would not be a valid name.
    public func prepending(_ label: String) -> DNSName? {
        DNSName(labels: [Array(label.utf8)] + labels)
    }

    /// `a.b` prepended with several labels, most specific first: `["3", "web"]` on `fleet.` → `3.web.fleet.`.
    public func prepending(_ newLabels: [String]) -> DNSName? {
        DNSName(labels: newLabels.map { Array($0.utf8) } + labels)
    }

    /// Presentation form with a trailing dot, escaping as dig does.
    public var description: String {
        if labels.isEmpty { return "." }
        var text = ""
        for label in labels {
            for byte in label {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"),
                     UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    text.append("\\")
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                case 0x21...0x7E:
                    text.unicodeScalars.append(Unicode.Scalar(byte))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
        }
        return text
    }

    @inline(__always)
    static func asciiLower(_ byte: UInt8) -> UInt8 {
        // Only A–Z fold; every other byte (including label length octets, all < 64) stays.
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }
}

extension DNSName: Hashable {
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.labels.count == rhs.labels.count else { return false }
        for (a, b) in zip(lhs.labels, rhs.labels) {
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where asciiLower(x) != asciiLower(y) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // One word per name (FNV-1a of the lower-cased wire form), which Hasher then mixes
        // with its seed: feeding Hasher byte by byte made building answers noticeably slower.
        var hash = NameHash.seed
        for label in labels {
            NameHash.add(&hash, UInt8(label.count))
            for byte in label { NameHash.add(&hash, byte) }
        }
        hasher.combine(hash)
    }
}

extension DNSName: ExpressibleByStringLiteral {
    /// For constants in code and tests; an invalid literal is a programming error.
    public init(stringLiteral value: String) {
        guard let name = DNSName(value) else { preconditionFailure("'\(value)' is not a valid DNS name") }
        self = name
    }
}
