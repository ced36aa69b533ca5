import Foundation

/// fleetd's configuration file in fleet's `fleet.conf` syntax: `key=value` lines at the top
/// level, `#` (or `;`) comments, blank lines, values optionally in double or single quotes.
///
/// A small parser of its own rather than apple/swift-configuration (1.4.0, in the package
/// mirror): its providers are JSON and YAML files, the environment and the command line,
/// and none reads fleet's INI lines as written (lower-case keys, quotes, `#` comments); more
/// to the point, a provider hands back values without the line they came from, so neither
/// `fleet.conf:7: unknown key 'agent_tll'` nor `--print-config`'s `# file fleet.conf:4` could be
/// said. Precedence (flag > environment > file > default) is a few lines in ``SettingResolver``.
///
/// Everything is bounded before it is looked at: the file's size, each line's length, the
/// number of settings; bytes that are not UTF-8 or are control characters are refused, so no
/// input can make fleetd trap or read without end.
struct ConfigFile: Sendable, Equatable {
    /// One `key=value` line.
    struct Entry: Sendable, Equatable {
        var key: String
        /// Without quotes and without a trailing comment; may be empty.
        var value: String
        /// 1-based.
        var line: Int
    }

    /// Where fleet kept it, and where fleetd looks when `--config` is not given.
    static let defaultPath = "/etc/fleet/fleet.conf"
    /// Far above any real configuration (fleet's has fewer than 30 keys).
    static let maxBytes = 1 << 20
    static let maxLineBytes = 16 << 10
    static let maxEntries = 256
    /// Keys are short names; a longer one is junk, and the did-you-mean search stays cheap.
    static let maxKeyLength = 64

    let path: String
    let entries: [Entry]

    /// The entry for `key`, if the file sets it (keys are unique: ``init(parsing:path:)`` checks).
    func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    /// Parses `bytes` read from `path` (used in messages only).
    ///
    /// - Throws: ``ConfigurationError`` naming the file and line of the first problem.
    init(parsing bytes: [UInt8], path: String) throws(ConfigurationError) {
        self.path = path
        guard bytes.count <= Self.maxBytes else {
            throw ConfigurationError(.fileTooLarge, "\(path): larger than \(Self.maxBytes) bytes; is this the configuration file?")
        }
        var entries: [Entry] = []
        var lineNumber = 0
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let at = "\(path):\(lineNumber):"
            guard rawLine.count <= Self.maxLineBytes else {
                throw ConfigurationError(.lineTooLong, "\(at) line longer than \(Self.maxLineBytes) bytes")
            }
            var lineBytes = rawLine[...]
            if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
            guard let line = String(validating: lineBytes, as: UTF8.self) else {
                throw ConfigurationError(.syntax, "\(at) not UTF-8 text")
            }
            guard !line.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" }) else {
                throw ConfigurationError(.syntax, "\(at) control character in the line")
            }
            guard let entry = try Self.entry(line, at: at, number: lineNumber) else { continue }
            if let earlier = entries.first(where: { $0.key == entry.key }) {
                throw ConfigurationError(.duplicateKey, "\(at) '\(entry.key)' is set again (first on line \(earlier.line)); keep one")
            }
            guard entries.count < Self.maxEntries else {
                throw ConfigurationError(.tooManyEntries, "\(at) more than \(Self.maxEntries) settings in one file")
            }
            entries.append(entry)
        }
        self.entries = entries
    }

    /// The entry on one line, nil for a blank or comment line.
    private static func entry(_ line: String, at: String, number: Int) throws(ConfigurationError) -> Entry? {
        let text = line.trimmingCharacters(in: .whitespaces)
        if text.isEmpty || text.hasPrefix("#") || text.hasPrefix(";") { return nil }
        if text.hasPrefix("[") {
            throw ConfigurationError(.syntax, "\(at) sections are not used; fleet.conf's keys stand at the top level")
        }
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigurationError(.syntax, "\(at) expected key=value, e.g. public_ip=\"10.0.0.5\"")
        }
        let key = text[..<equals].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, key.count <= maxKeyLength,
              key.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") })
        else {
            throw ConfigurationError(.syntax, "\(at) '\(key.prefix(maxKeyLength))' is not a key name; keys are like agent_ttl")
        }
        return Entry(key: key, value: try value(text[text.index(after: equals)...], at: at), line: number)
    }

    /// A value without its quotes or trailing comment. Quotes have no escapes (fleet's had
    /// none either); a `#` starts a comment only after a closing quote or after white space,
    /// so `metadata=rack=a#1` keeps its `#`.
    private static func value(_ raw: Substring, at: String) throws(ConfigurationError) -> String {
        let text = raw.trimmingCharacters(in: .whitespaces)
        guard let quote = text.first, quote == "\"" || quote == "'" else {
            // `raw` still has the blank after `=`, so `key= # note` is an empty value.
            let comment = raw.indices.first { index in
                raw[index] == "#" && index > raw.startIndex && raw[raw.index(before: index)].isWhitespace
            }
            return raw[..<(comment ?? raw.endIndex)].trimmingCharacters(in: .whitespaces)
        }
        let body = text.dropFirst()
        guard let close = body.firstIndex(of: quote) else {
            throw ConfigurationError(.syntax, "\(at) the value's opening \(quote) is never closed")
        }
        let rest = body[body.index(after: close)...].trimmingCharacters(in: .whitespaces)
        guard rest.isEmpty || rest.hasPrefix("#") else {
            throw ConfigurationError(.syntax, "\(at) text after the quoted value: '\(rest.prefix(40))'")
        }
        return String(body[..<close])
    }
}
