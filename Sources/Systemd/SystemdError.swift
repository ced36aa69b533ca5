import Glibc

/// A failed operation on systemd: a D-Bus call, a system call, or a closed connection.
///
/// Compare ``code`` to tell failures apart; ``description`` names the call, the unit and
/// the D-Bus error (or errno), e.g.
/// `StartUnit(web.service) failed: org.freedesktop.systemd1.NoSuchUnit: Unit web.service not found.`
public struct SystemdError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. New codes may be added; compare with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case noSuchUnit, busError, systemCall, invalidUnitName, connectionClosed, invalidReply
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// systemd does not know the unit (`org.freedesktop.systemd1.NoSuchUnit`).
        public static let noSuchUnit = Code(.noSuchUnit)
        /// Any other D-Bus error reply; see ``SystemdError/busErrorName``.
        public static let busError = Code(.busError)
        /// A local system or sd-bus call failed with ``SystemdError/errno``.
        public static let systemCall = Code(.systemCall)
        /// The name cannot be used as a unit file name (empty, contains `/`, `.` or `..`).
        public static let invalidUnitName = Code(.invalidUnitName)
        /// The bus connection is closed (``SystemdUnitManager/close()`` or a lost connection).
        public static let connectionClosed = Code(.connectionClosed)
        /// A reply did not have the shape the D-Bus API promises.
        public static let invalidReply = Code(.invalidReply)

        public var description: String { base.rawValue }
    }

    /// The D-Bus error name systemd uses for an unknown unit.
    public static let noSuchUnitErrorName = "org.freedesktop.systemd1.NoSuchUnit"

    public var code: Code
    /// The failed call: a D-Bus method (`StartUnit`, `Get LoadState`) or a C function (`rename`).
    public var call: String
    /// The unit the call was about, if any.
    public var unit: String?
    /// The positive errno the call returned, or 0.
    public var errno: Int32
    /// The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`, if the peer sent one.
    public var busErrorName: String?
    /// The D-Bus error message, or a description of the failure.
    public var message: String
    /// Where the error was raised (`file:line`).
    public var location: String

    public init(
        code: Code, call: String, unit: String? = nil, errno: Int32 = 0, busErrorName: String? = nil,
        message: String = "", file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.call = call
        self.unit = unit
        self.errno = errno
        self.busErrorName = busErrorName
        self.message = message
        self.location = "\(file):\(line)"
    }

    public var description: String {
        var text = call
        if let unit { text += "(\(unit))" }
        text += " failed: "
        if let busErrorName {
            text += message.isEmpty ? busErrorName : "\(busErrorName): \(message)"
        } else {
            var parts: [String] = []
            if !message.isEmpty { parts.append(message) }
            if errno != 0 { parts.append("\(String(cString: strerror(errno))) (errno \(errno))") }
            text += parts.isEmpty ? "\(code)" : parts.joined(separator: ": ")
        }
        return text
    }
}

extension SystemdError {
    /// An error from a negative sd-bus/libc return value `result` (a negated errno).
    static func systemCall(
        _ call: String, unit: String? = nil, result: Int32, message: String = "",
        file: String = #fileID, line: Int = #line
    ) -> SystemdError {
        SystemdError(
            code: .systemCall, call: call, unit: unit, errno: result < 0 ? -result : result,
            message: message, file: file, line: line)
    }

    static func connectionClosed(file: String = #fileID, line: Int = #line) -> SystemdError {
        SystemdError(
            code: .connectionClosed, call: "sd-bus connection",
            message: "the connection to systemd is closed", file: file, line: line)
    }

    static func invalidReply(
        _ call: String, unit: String? = nil, result: Int32, file: String = #fileID, line: Int = #line
    ) -> SystemdError {
        SystemdError(
            code: .invalidReply, call: call, unit: unit, errno: result < 0 ? -result : 0,
            message: "unexpected reply", file: file, line: line)
    }
}
