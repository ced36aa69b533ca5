/// Why a unit's `[X-Fleet]` requirements can never be satisfied together.
///
/// fleet's API answers 400 with these texts and fleetctl prints `Error creating units: <text>`, so the
/// messages are fleet's exactly. Branch on ``code``.
public struct XFleetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of contradiction; new codes may be added, so `switch` with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable { case incompatibleOptions, unresolvableRequirements, invalidValue }
        private let base: Base
        /// Two options that fleet refuses to combine, such as `MachineID` with `Global`.
        public static let incompatibleOptions = Code(base: .incompatibleOptions)
        /// A `MachineOf` peer that the unit's own `Conflicts` or `Replaces` globs match.
        public static let unresolvableRequirements = Code(base: .unresolvableRequirements)
        /// An option of ours whose value is not one it accepts, such as `Isolation=sometimes`.
        public static let invalidValue = Code(base: .invalidValue)
        public var description: String { base.rawValue }
    }

    public let code: Code
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

    /// `Isolation="sometimes" is not valid; expected "keep" or "stop"`.
    public static func invalidValue(_ key: String, _ value: String, expected: String) -> Self {
        Self(.invalidValue, "\(key)=\(GoQuoting.quoted(value)) is not valid; expected \(expected)")
    }

    /// `<first> cannot be used with <second>`, e.g. `MachineID cannot be used with Peers`.
    ///
    /// fleet calls `MachineOf` "Peers" in these messages; we keep its wording.
    public static func incompatible(_ first: String, _ second: String) -> Self {
        Self(.incompatibleOptions, "\(first) cannot be used with \(second)")
    }

    /// `unresolvable requirements: peer "db.service" matches conflict "db*"`.
    public static func peerMatchesConflict(peer: String, conflict: String) -> Self {
        Self(.unresolvableRequirements,
             "unresolvable requirements: peer \(GoQuoting.quoted(peer)) matches conflict \(GoQuoting.quoted(conflict))")
    }

    /// `unresolvable requirements: peer "db.service" matches replace "db*"`.
    public static func peerMatchesReplace(peer: String, replace: String) -> Self {
        Self(.unresolvableRequirements,
             "unresolvable requirements: peer \(GoQuoting.quoted(peer)) matches replace \(GoQuoting.quoted(replace))")
    }
}
