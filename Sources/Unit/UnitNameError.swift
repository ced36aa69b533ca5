/// Why a string is not a valid unit name.
///
/// The messages are fleet's own (its API answers 400 with them, and fleetctl prints them), so tools that
/// grep for them keep working. Branch on ``code``, not on ``message``.
public struct UnitNameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The rule that was broken; new codes may be added, so `switch` with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case empty, tooLong, missingDot, endsInDot, invalidType, invalidTemplateType, invalidCharacter,
                startsWithAt
        }
        private let base: Base
        public static let empty = Code(base: .empty)
        public static let tooLong = Code(base: .tooLong)
        public static let missingDot = Code(base: .missingDot)
        public static let endsInDot = Code(base: .endsInDot)
        /// The text after the last `.` is not a systemd unit type.
        public static let invalidType = Code(base: .invalidType)
        /// A name with `@` must be a service, socket, timer, path or target.
        public static let invalidTemplateType = Code(base: .invalidTemplateType)
        public static let invalidCharacter = Code(base: .invalidCharacter)
        public static let startsWithAt = Code(base: .startsWithAt)
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// fleet's exact error text, e.g. `unit name must contain "."`.
    public let message: String
    /// Where in this module the error was raised (`file:line`); not part of equality.
    public let location: String

    public var description: String { message }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    public static let empty = UnitNameError(.empty, "unit name cannot be empty")
    public static let tooLong = UnitNameError(.tooLong, "unit name exceeds maximum length (\(UnitName.maximumLength))")
    public static let missingDot = UnitNameError(.missingDot, #"unit name must contain ".""#)
    public static let endsInDot = UnitNameError(.endsInDot, #"unit name cannot end in ".""#)
    public static let startsWithAt = UnitNameError(.startsWithAt, #"unit name cannot start in "@""#)

    public static func invalidType(_ suffix: String) -> Self {
        Self(.invalidType, "invalid unit type: \(GoQuoting.quoted(suffix))")
    }

    public static func invalidTemplateType(_ suffix: String) -> Self {
        Self(.invalidTemplateType, "invalid unit type for template: \(GoQuoting.quoted(suffix))")
    }

    public static func invalidCharacter(_ character: Unicode.Scalar) -> Self {
        Self(.invalidCharacter, "invalid character \(GoQuoting.quoted(character)) in unit name")
    }
}
