/// The three places fleetd's settings come from, checked once when they are gathered: the
/// options given on the command line, the `FLEET_*` environment, and the configuration file.
struct SettingSources: Sendable {
    /// Options given on the command line, by key name (``FleetdCommand/givenOptions``).
    var flags: [String: String]
    var environment: [String: String]
    var file: ConfigFile?
    /// What was looked for, for `--print-config`: the path, and whether it was found.
    var filePath: String?

    /// - Throws: ``ConfigurationError`` for the file's first unknown key (with the nearest
    ///   known one, when one is close), a fleet key whose feature fleetd lacks, or a key that
    ///   must not stay in a file.
    ///
    /// Unknown keys are errors, where fleet only warned: a misspelt `agent_tll` would
    /// otherwise leave the default in force without anyone noticing, and a configuration
    /// error is cheapest found at the first start.
    init(flags: [String: String], environment: [String: String], file: ConfigFile?, filePath: String? = nil) throws(ConfigurationError) {
        self.flags = flags
        self.environment = environment
        self.file = file
        self.filePath = filePath ?? file?.path
        for entry in file?.entries ?? [] {
            let at = "\(file?.path ?? ""):\(entry.line):"
            guard let key = ConfigKey.named(entry.key) else {
                let hint = Self.nearest(entry.key).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigurationError(.unknownKey, "\(at) unknown key '\(entry.key)'\(hint)")
            }
            // Empty is fleet's default for these, so a template's `etcd_password=` is no request.
            if case .unsupported(let reason) = key.use, !entry.value.isEmpty {
                throw ConfigurationError(.unsupported, "\(at) \(key.name): \(reason)")
            }
            guard key.inFile else {
                throw ConfigurationError(.badValue, "\(at) \(key.name) is for one start only and must not stay in a file; pass --\(key.flag ?? key.name) or \(key.environmentName)")
            }
        }
        for key in ConfigKey.all {
            if case .unsupported(let reason) = key.use, !(environment[key.environmentName] ?? "").isEmpty {
                throw ConfigurationError(.unsupported, "\(key.environmentName): \(reason)")
            }
        }
    }

    /// The known key closest to `name` by edit distance, if it is close enough to be a typo.
    static func nearest(_ name: String) -> String? {
        let candidates = ConfigKey.all.map { ($0.name, editDistance(name.lowercased(), $0.name)) }
        guard let best = candidates.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 4) else { return nil }
        return best.0
    }

    /// Levenshtein distance; both are short (keys are at most ``ConfigFile/maxKeyLength``).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
