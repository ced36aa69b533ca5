/// A machine's identity: the contents of its `/etc/machine-id` (32 hex characters).
public struct MachineID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The 8-character short form fleet prints (`abcdef12`) and accepts in `MachineID=`.
    public var short: String { String(rawValue.prefix(8)) }

    public var description: String { rawValue }

    public static func < (a: MachineID, b: MachineID) -> Bool { a.rawValue < b.rawValue }
}
