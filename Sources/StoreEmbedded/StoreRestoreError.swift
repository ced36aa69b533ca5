import Glibc

/// Why a backup could not be written or a restore was refused; the message names the file
/// and what to do.
public struct StoreRestoreError: Error, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        /// Another process (a running fleetd) holds the store.
        case inUse
        /// The file is not a fleet store (another SQLite file, or not SQLite at all).
        case notAFleetStore
        /// The file is a fleet store but fails SQLite's integrity check.
        case damaged
        /// The store was written by a newer fleet (schema version above this one's).
        case newerSchema
        /// A file could not be created, read, flushed or renamed.
        case fileSystem
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A failed system call on a file: `what` plus the system's reason for `error` (an errno).
    static func fileSystem(_ what: String, _ error: Int32) -> StoreRestoreError {
        StoreRestoreError(.fileSystem, "\(what): \(String(cString: strerror(error)))")
    }

    public var description: String { message }
}
