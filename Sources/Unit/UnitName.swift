/// A validated systemd unit name as fleet accepts it, e.g. `web@1.service`.
///
/// Holding a ``UnitName`` proves the string passed fleet's API rules, so the rest of fleet never re-checks
/// names and never has to handle a name without a suffix. The parts (``prefix``, ``instance``, ``suffix``)
/// follow fleet's split: the instance is everything between the *first* `@` and the *last* `.`.
public struct UnitName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The longest accepted name, in bytes (systemd's `UNIT_NAME_MAX`).
    public static let maximumLength = 256

    /// Suffixes fleet accepts for any unit.
    public static let unitTypes: Set<String> = [
        "automount", "busname", "device", "mount", "path", "scope", "service", "slice", "snapshot", "socket",
        "swap", "target", "timer",
    ]

    /// Suffixes allowed when the name contains `@` (templates and their instances).
    public static let templateUnitTypes: Set<String> = ["path", "service", "socket", "target", "timer"]

    /// The name exactly as given.
    public let rawValue: String

    /// Validates `raw` with fleet's rules, reporting the first rule broken.
    ///
    /// - Throws: ``UnitNameError`` with fleet's text, checked in fleet's order: empty, too long, no `.`,
    ///   trailing `.`, unknown type, type not allowed for a template, bad character, leading `@`.
    public init(_ raw: String) throws(UnitNameError) {
        let bytes = raw.utf8
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maximumLength else { throw .tooLong }
        // Unicode scalars, not Characters: a combining mark after "." must not hide the dot, as in Go.
        let scalars = raw.unicodeScalars
        guard let dot = scalars.lastIndex(of: ".") else { throw .missingDot }
        let suffix = String(scalars[scalars.index(after: dot)...])
        guard !suffix.isEmpty else { throw .endsInDot }
        guard Self.unitTypes.contains(suffix) else { throw .invalidType(suffix) }
        let stem = scalars[..<dot]
        if stem.contains("@"), !Self.templateUnitTypes.contains(suffix) {
            throw .invalidTemplateType(suffix)
        }
        if let bad = stem.first(where: { !Self.isAllowed($0) }) {
            throw .invalidCharacter(bad)
        }
        guard scalars.first != "@" else { throw .startsWithAt }
        self.rawValue = raw
    }

    /// Characters systemd allows before the suffix: `[A-Za-z0-9:_.@\-\\]`.
    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ":", "_", ".", "@", "-", "\\": return true
        default: return false
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Index of the last `.`; validation guarantees there is one.
    private var lastDot: String.Index { rawValue.lastIndex(of: ".")! }

    /// The unit type, the text after the last `.` (`service` for `web@1.service`).
    public var suffix: String { String(rawValue[rawValue.index(after: lastDot)...]) }

    /// The name without its suffix (`web@1` for `web@1.service`); systemd's `%N`.
    public var stem: String { String(rawValue[..<lastDot]) }

    /// The text before the first `@`, or the whole stem when there is none; systemd's `%p`.
    public var prefix: String {
        let stem = rawValue[..<lastDot]
        guard let at = stem.firstIndex(of: "@") else { return String(stem) }
        return String(stem[..<at])
    }

    /// The text between the first `@` and the last `.`: `nil` without `@`, empty for a template.
    public var instance: String? {
        let stem = rawValue[..<lastDot]
        guard let at = stem.firstIndex(of: "@") else { return nil }
        return String(stem[stem.index(after: at)...])
    }

    /// A template such as `web@.service`: it can be submitted but never scheduled.
    public var isTemplate: Bool { instance?.isEmpty == true }

    /// An instance such as `web@1.service`, whose contents come from its template.
    public var isInstance: Bool { instance?.isEmpty == false }

    /// The template this name belongs to (`web@.service` for `web@1.service` and for `web@.service`).
    public var templateName: UnitName? {
        guard instance != nil else { return nil }
        return try? UnitName("\(prefix)@.\(suffix)")
    }

    /// The instance of this template called `instance` (`web@.service` → `web@1.service`).
    ///
    /// - Returns: `nil` when this is not a template, `instance` is empty, or the result is not a valid name.
    public func instantiated(_ instance: String) -> UnitName? {
        guard isTemplate, !instance.isEmpty else { return nil }
        return try? UnitName("\(prefix)@\(instance).\(suffix)")
    }
}

extension UnitName: Codable {
    /// Decodes a plain JSON string, rejecting invalid names with fleet's message.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        do {
            try self.init(raw)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
