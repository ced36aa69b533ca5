import Foundation

/// What each setting resolved to and where from, kept beside the settings for
/// `fleetd --print-config` and for the start-up warnings about fleet keys that mean nothing here.
struct SettingProvenance: Sendable {
    /// Key name → value text and origin, for every key that has one.
    let resolved: [String: ResolvedSetting]
    /// fleet's keys that were set but mean nothing here, with where they were set.
    let ignored: [(key: ConfigKey, setting: ResolvedSetting, reason: String)]
    /// The configuration file looked for, and whether it was there.
    let filePath: String?
    let fileFound: Bool

    /// Takes what `resolver` has resolved, after looking up the ignored fleet keys too.
    init(resolving resolver: inout SettingResolver) {
        var ignored: [(key: ConfigKey, setting: ResolvedSetting, reason: String)] = []
        for key in ConfigKey.fleetOnly {
            guard case .ignored(let reason) = key.use, let setting = resolver.text(key) else { continue }
            ignored.append((key, setting, reason))
        }
        self.ignored = ignored
        resolved = resolver.resolved
        filePath = resolver.sources.filePath
        fileFound = resolver.sources.file != nil
    }

    /// One line per ignored key, as logged at start: `/etc/fleet/fleet.conf:6: enable_grpc is ignored: ...`.
    var ignoredWarnings: [String] {
        ignored.map { "\($0.setting.origin.subject($0.key)) is ignored: \($0.reason)" }
    }

    /// `--print-config`: every setting, `key = value   # origin`, in ``ConfigKey/all``'s order;
    /// secrets (key files, passwords) only as `(set)`; the ignored fleet keys last, commented out.
    var rendered: String {
        var lines: [String] = []
        switch (filePath, fileFound) {
        case (let path?, true): lines.append("# configuration file \(path)")
        case (let path?, false): lines.append("# configuration file \(path) (not present; defaults apply)")
        case (nil, _): lines.append("# no configuration file")
        }
        func line(_ key: ConfigKey, _ setting: ResolvedSetting) -> String {
            let value = key.secret ? "(set)" : Self.quoted(setting.text)
            let assignment = "\(key.name) = \(value)"
            let padding = String(repeating: " ", count: max(1, 44 - assignment.count))
            return assignment + padding + "# \(setting.origin)"
        }
        for key in ConfigKey.all where key.use == .used {
            guard let setting = resolved[key.name] else {
                lines.append((key.inFile ? "" : "# ") + "\(key.name) = ".padding(toLength: 44, withPad: " ", startingAt: 0) + "# not set")
                continue
            }
            // Not for a file: shown, but commented out so the printout still reads back as one.
            lines.append((key.inFile ? "" : "# ") + line(key, setting))
        }
        for (key, setting, reason) in ignored {
            lines.append("# " + line(key, setting) + ", ignored: \(reason)")
        }
        return lines.joined(separator: "\n")
    }

    /// In fleet.conf's syntax: quoted when empty or when spaces or `#` would change its meaning.
    private static func quoted(_ text: String) -> String {
        text.isEmpty || text.contains(where: { $0 == "#" || $0 == " " || $0 == "\t" }) ? "\"\(text)\"" : text
    }
}
