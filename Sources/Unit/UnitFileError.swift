/// Why a unit file's text could not be parsed, and on which line.
///
/// ``description`` reads `line 3: expected "Name=Value" or "[Section]", got "garbage"`: the line number
/// first, so the user can jump to it, then what was wrong and what was expected.
public struct UnitFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of mistake; new codes may be added, so `switch` with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case lineTooLong, unterminatedSection, textAfterSection, optionBeforeSection, malformedLine,
                danglingBackslash, unrepresentable
        }
        private let base: Base
        /// A line (or an option joined from continuation lines) over systemd's 2048-byte `LINE_MAX`.
        public static let lineTooLong = Code(base: .lineTooLong)
        /// `[Unit` without its `]`.
        public static let unterminatedSection = Code(base: .unterminatedSection)
        /// `[Unit] extra`: systemd would ignore the header.
        public static let textAfterSection = Code(base: .textAfterSection)
        /// `Name=Value` before any `[Section]` header.
        public static let optionBeforeSection = Code(base: .optionBeforeSection)
        /// A line that is neither a header, a comment nor `Name=Value`.
        public static let malformedLine = Code(base: .malformedLine)
        /// A value that would end in `\` and so swallow the next line once written back.
        public static let danglingBackslash = Code(base: .danglingBackslash)
        /// An option given as data (not parsed) that would read back differently once written as text.
        public static let unrepresentable = Code(base: .unrepresentable)
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The 1-based line the problem was found on.
    public let line: Int
    /// What was wrong, without the line number.
    public let message: String
    /// Where in this module the error was raised (`file:line`); not part of equality.
    public let location: String

    public var description: String { "line \(line): \(message)" }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.line == rhs.line && lhs.message == rhs.message
    }

    init(_ code: Code, line: Int, _ message: String, file: String = #fileID, sourceLine: Int = #line) {
        self.code = code
        self.line = line
        self.message = message
        self.location = "\(file):\(sourceLine)"
    }

    public static func lineTooLong(line: Int, bytes: Int) -> Self {
        Self(.lineTooLong, line: line,
             "line too long (\(bytes) bytes; max \(UnitFile.maximumLineLength) bytes including the newline)")
    }

    public static func optionTooLong(line: Int, name: String, bytes: Int) -> Self {
        Self(.lineTooLong, line: line,
             "option \(GoQuoting.quoted(name)) is \(bytes) bytes once its continuation lines are joined; "
                + "max \(UnitFile.maximumLineLength) bytes including the newline")
    }

    public static func unterminatedSection(line: Int, text: String) -> Self {
        Self(.unterminatedSection, line: line, "section header has no closing \"]\": \(excerpt(text))")
    }

    public static func textAfterSection(line: Int, section: String, text: String) -> Self {
        Self(.textAfterSection, line: line,
             "unexpected text after section header [\(section)]: \(excerpt(text)); put comments on their own line")
    }

    public static func optionBeforeSection(line: Int, name: String) -> Self {
        Self(.optionBeforeSection, line: line,
             "option \(GoQuoting.quoted(name)) appears before any section; add a header such as [Unit] above it")
    }

    public static func malformedLine(line: Int, text: String) -> Self {
        Self(.malformedLine, line: line, "expected \"Name=Value\" or \"[Section]\", got \(excerpt(text))")
    }

    public static func danglingBackslash(line: Int, name: String) -> Self {
        Self(.danglingBackslash, line: line,
             "the value of \(GoQuoting.quoted(name)) ends in \"\\\" with no line to continue onto; remove the backslash")
    }

    public static func unrepresentable(line: Int, option: UnitOption) -> Self {
        Self(.unrepresentable, line: line,
             "option \(GoQuoting.quoted(option.name)) in [\(option.section)] with value \(excerpt(option.value)) "
                + "would read back differently once written as a unit file; names must not contain \"=\" or "
                + "start with \"#\", \";\" or \"[\", and neither may hold a newline or surrounding spaces")
    }

    /// The offending text, quoted and cut short so a 2000-byte line doesn't flood the message.
    private static func excerpt(_ text: String) -> String {
        let limit = 60
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return GoQuoting.quoted(text) }
        return GoQuoting.quoted(String(String.UnicodeScalarView(scalars.prefix(limit)))) + "..."
    }
}
