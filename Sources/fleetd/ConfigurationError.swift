/// Why fleetd's configuration (file, environment or flags) was refused.
///
/// The message starts with where the bad setting was (`/etc/fleet/fleet.conf:7:`,
/// `FLEET_AGENT_TTL:` or `--agent-ttl`) so a person can go straight to it; fleetd prints it and
/// exits non-zero at start-up, and a reload logs it and keeps the running settings.
struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case fileUnreadable, fileTooLarge, lineTooLong, tooManyEntries, syntax, unknownKey, duplicateKey,
                 badValue, unsupported
        }
        private let base: Base
        /// The file is missing (when named explicitly), a directory, or cannot be read.
        static let fileUnreadable = Code(base: .fileUnreadable)
        /// The file is larger than ``ConfigFile/maxBytes``.
        static let fileTooLarge = Code(base: .fileTooLarge)
        /// A line is longer than ``ConfigFile/maxLineBytes``.
        static let lineTooLong = Code(base: .lineTooLong)
        /// More than ``ConfigFile/maxEntries`` settings in one file.
        static let tooManyEntries = Code(base: .tooManyEntries)
        /// A line that is neither `key=value`, a comment nor blank; or not UTF-8.
        static let syntax = Code(base: .syntax)
        /// A key fleetd does not know (a typo, most likely).
        static let unknownKey = Code(base: .unknownKey)
        /// The same key twice in one file.
        static let duplicateKey = Code(base: .duplicateKey)
        /// A value the key does not accept.
        static let badValue = Code(base: .badValue)
        /// A fleet key whose feature fleetd does not have, where ignoring it would change behaviour.
        static let unsupported = Code(base: .unsupported)
        var description: String { base.rawValue }
    }

    var code: Code
    /// Complete, with the location first.
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
