/// One `Name=Value` line of a unit file, with the section it sits in.
///
/// This is also fleet's API entity (`{"section": "Service", "name": "ExecStart", "value": "..."}`), which is
/// why a unit is a flat list of these rather than a nested dictionary: order and repeats are kept.
public struct UnitOption: Hashable, Sendable, Codable, CustomStringConvertible {
    public var section: String
    public var name: String
    public var value: String

    public init(section: String, name: String, value: String) {
        self.section = section
        self.name = name
        self.value = value
    }

    public var description: String { "[\(section)] \(name)=\(value)" }

    /// Byte-for-byte equality, not Swift's Unicode canonical equivalence: `é` and `e` + U+0301 hash to
    /// different unit hashes, so options holding them must not compare equal either. (Stricter than the
    /// synthesized hash, so hashing stays consistent.)
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.section.utf8.elementsEqual(rhs.section.utf8) && lhs.name.utf8.elementsEqual(rhs.name.utf8)
            && lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }
}
