/// The `[X-Fleet]` values of one unit, after fleet's value-level processing, grouped by key.
///
/// Kept apart from ``XFleetRequirements`` so that the option semantics there read as a list of rules.
struct XFleetValues {
    /// One value: its text with specifiers replaced, and whether it came from a quoted list.
    struct Value {
        var text: String
        var wasQuoted: Bool
    }

    /// Keys in first-seen order.
    private(set) var keys: [String] = []
    private var byKey: [String: [Value]] = [:]

    init(unit: UnitName, file: UnitFile) {
        for option in file.options where option.section == "X-Fleet" {
            if byKey[option.name] == nil { keys.append(option.name) }
            let (parts, quoted) = Self.splitQuoted(option.value)
            byKey[option.name, default: []] += parts.map {
                Value(text: Self.substitutingSpecifiers(in: $0, for: unit), wasQuoted: quoted)
            }
        }
    }

    func all(_ key: String) -> [Value] { byKey[key] ?? [] }

    func texts(_ key: String) -> [String] { all(key).map(\.text) }

    func first(_ key: String) -> String? { byKey[key]?.first?.text }

    /// fleet's multi-value rule: a value that starts *and* ends with `"` is split at spaces outside
    /// quotes, with every quote dropped (`"a=1" "b=2"` → `a=1`, `b=2`); any other value is one value.
    static func splitQuoted(_ value: String) -> ([String], quoted: Bool) {
        let scalars = value.unicodeScalars
        guard scalars.first == "\"", scalars.last == "\"" else { return ([value], false) }
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var insideQuotes = false
        for scalar in scalars {
            switch scalar {
            case "\"":
                insideQuotes.toggle()
            case " " where !insideQuotes:
                parts.append(String(current))
                current = String.UnicodeScalarView()
            default:
                current.append(scalar)
            }
        }
        parts.append(String(current))
        return (parts, true)
    }

    /// Replaces `%n` (full name), `%N` (name without suffix), `%p` (prefix) and `%i` (instance, empty
    /// when none), one after the other like fleet's `unitPrintf`. No other specifier is expanded.
    static func substitutingSpecifiers(in text: String, for unit: UnitName) -> String {
        var out = text
        for (specifier, replacement) in [
            ("%n", unit.rawValue), ("%N", unit.stem), ("%p", unit.prefix), ("%i", unit.instance ?? ""),
        ] {
            out = replacingAll(specifier, with: replacement, in: out)
        }
        return out
    }

    /// Byte-wise, non-overlapping, left-to-right replacement (Go's `strings.Replace(s, old, new, -1)`).
    private static func replacingAll(_ target: String, with replacement: String, in text: String) -> String {
        let bytes = Array(text.utf8)
        let needle = Array(target.utf8)
        guard !needle.isEmpty, bytes.count >= needle.count else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if index + needle.count <= bytes.count && bytes[index..<index + needle.count].elementsEqual(needle) {
                out += replacement.utf8
                index += needle.count
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Go's `strings.Fields`: split at runs of Unicode whitespace, no empty fields.
    static func fields(_ text: String) -> [String] {
        text.unicodeScalars.split(whereSeparator: { $0.properties.isWhitespace }).map { String($0) }
    }
}
