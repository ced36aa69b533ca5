/// Reads each setting from the first source that has it, flag > environment (`FLEET_<KEY>`) >
/// file > default, and remembers the answer and its origin for `--print-config`.
///
/// An empty value in the environment or the file counts as not set (fleet's defaults for its
/// string keys were empty strings, so `public_ip=""` means "find it"). Errors about a value
/// name its origin (``SettingOrigin/subject(_:)``).
struct SettingResolver {
    let sources: SettingSources
    /// Every key looked up so far, with what it resolved to.
    private(set) var resolved: [String: ResolvedSetting] = [:]

    init(_ sources: SettingSources) {
        self.sources = sources
    }

    /// The key's value from the first source that sets it, or nil.
    mutating func text(_ key: ConfigKey) -> ResolvedSetting? {
        let found = lookup(key)
        if let found { resolved[key.name] = found }
        return found
    }

    /// The key's value, or `fallback` (recorded as the default).
    mutating func text(_ key: ConfigKey, default fallback: String) -> ResolvedSetting {
        let found = lookup(key) ?? ResolvedSetting(text: fallback, origin: .defaultValue)
        resolved[key.name] = found
        return found
    }

    /// Records a default worked out by the caller for a key no source set (`public_ip`).
    mutating func recordDefault(_ key: ConfigKey, _ text: String) {
        if resolved[key.name] == nil { resolved[key.name] = ResolvedSetting(text: text, origin: .defaultValue) }
    }

    /// A switch: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case; Go's `t`/`f` too).
    mutating func bool(_ key: ConfigKey, default fallback: Bool = false) throws(ConfigurationError) -> Bool {
        guard let setting = text(key) else {
            resolved[key.name] = ResolvedSetting(text: String(fallback), origin: .defaultValue)
            return fallback
        }
        switch setting.text.lowercased() {
        case "1", "true", "t", "yes", "on": return true
        case "0", "false", "f", "no", "off": return false
        default: throw invalid(key, setting, "must be true or false")
        }
    }

    /// A whole number in `range`, `fallback` when not set.
    mutating func number(_ key: ConfigKey, in range: ClosedRange<Int>, default fallback: Int) throws(ConfigurationError) -> Int {
        let setting = text(key, default: String(fallback))
        guard setting.text.utf8.count <= 20, let number = Int(setting.text), range.contains(number) else {
            throw invalid(key, setting, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A whole number of seconds in `range`: `30`, or a Go duration as fleet's `agent_ttl` took
    /// (`30s`, `1m30s`, `2h`).
    mutating func seconds(_ key: ConfigKey, in range: ClosedRange<Int64>, default fallback: String) throws(ConfigurationError) -> Int64 {
        let setting = text(key, default: fallback)
        guard let seconds = Self.seconds(setting.text), range.contains(seconds) else {
            throw invalid(key, setting, "must be a whole number of seconds from \(range.lowerBound) to \(range.upperBound) (e.g. 30 or 30s)")
        }
        return seconds
    }

    /// The error for a value that `key` does not take: its origin, the expectation, and the
    /// value as given (never a secret's).
    func invalid(_ key: ConfigKey, _ setting: ResolvedSetting, _ expectation: String) -> ConfigurationError {
        let shown = key.secret ? "" : ", not '\(setting.text.prefix(200))'"
        return ConfigurationError(.badValue, "\(setting.origin.subject(key)) \(expectation)\(shown)")
    }

    private func lookup(_ key: ConfigKey) -> ResolvedSetting? {
        if let flag = key.flag, let value = sources.flags[key.name] {
            return ResolvedSetting(text: value, origin: .flag(flag))
        }
        if let value = sources.environment[key.environmentName], !value.isEmpty {
            return ResolvedSetting(text: value, origin: .environment(key.environmentName))
        }
        if let file = sources.file, let entry = file.entry(key.name), !entry.value.isEmpty {
            return ResolvedSetting(text: entry.value, origin: .file(path: file.path, line: entry.line))
        }
        return nil
    }

    /// Seconds in a bare number or a Go duration (units h, m, s, ms; whole seconds only); nil
    /// for anything else, including numbers too large to be a TTL.
    static func seconds(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 32 else { return nil }
        if let whole = Int64(text) { return whole }
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text), total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let amount = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += amount * scale
        }
        // Whole seconds only, and far inside Int64 before converting.
        guard total.isFinite, total < 1e12, total.rounded() == total else { return nil }
        return Int64(total)
    }
}
