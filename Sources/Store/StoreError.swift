/// A failed store operation. The ``code`` is what callers branch on; the message names the key.
///
/// Codes map one to one onto etcd v2 error codes, so the HTTP keys API can answer exactly as
/// etcd would and a remote store can turn an etcd-style error body back into the same error.
public struct StoreError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// etcd v2 `errorCode`.
        public let etcdCode: Int
        /// The HTTP status etcd answers with for this code.
        public let httpStatus: Int
        /// etcd's own message for the code (`Key not found`).
        public let etcdMessage: String
        /// Which code this is. Part of equality because some of our codes share etcd's number,
        /// status and message (``invalidKey`` is etcd's ``invalidField`` on the wire) yet mean
        /// something else to a caller branching on them.
        let name: String

        init(_ name: String, etcdCode: Int, httpStatus: Int, etcdMessage: String) {
            self.name = name
            self.etcdCode = etcdCode
            self.httpStatus = httpStatus
            self.etcdMessage = etcdMessage
        }

        public static let keyNotFound = Code("keyNotFound", etcdCode: 100, httpStatus: 404, etcdMessage: "Key not found")
        public static let compareFailed = Code("compareFailed", etcdCode: 101, httpStatus: 412, etcdMessage: "Compare failed")
        public static let notAFile = Code("notAFile", etcdCode: 102, httpStatus: 403, etcdMessage: "Not a file")
        public static let notADirectory = Code("notADirectory", etcdCode: 104, httpStatus: 400, etcdMessage: "Not a directory")
        public static let nodeExists = Code("nodeExists", etcdCode: 105, httpStatus: 412, etcdMessage: "Key already exists")
        public static let rootReadOnly = Code("rootReadOnly", etcdCode: 107, httpStatus: 400, etcdMessage: "Root is read only")
        public static let directoryNotEmpty = Code("directoryNotEmpty", etcdCode: 108, httpStatus: 403, etcdMessage: "Directory not empty")
        public static let prevValueRequired = Code("prevValueRequired", etcdCode: 201, httpStatus: 400, etcdMessage: "PrevValue is Required in POST form")
        public static let ttlNaN = Code("ttlNaN", etcdCode: 202, httpStatus: 400, etcdMessage: "The given TTL in POST form is not a number")
        public static let indexNaN = Code("indexNaN", etcdCode: 203, httpStatus: 400, etcdMessage: "The given index in POST form is not a number")
        public static let invalidField = Code("invalidField", etcdCode: 209, httpStatus: 400, etcdMessage: "Invalid field")
        public static let invalidForm = Code("invalidForm", etcdCode: 210, httpStatus: 400, etcdMessage: "Invalid POST form")
        public static let refreshValue = Code("refreshValue", etcdCode: 211, httpStatus: 400, etcdMessage: "Value provided on refresh")
        public static let refreshTTLRequired = Code("refreshTTLRequired", etcdCode: 212, httpStatus: 400, etcdMessage: "A TTL must be provided on refresh")
        public static let unavailable = Code("unavailable", etcdCode: 300, httpStatus: 500, etcdMessage: "Raft Internal Error")
        public static let indexCleared = Code("indexCleared", etcdCode: 401, httpStatus: 400, etcdMessage: "The event in requested index is outdated and cleared")
        /// Not an etcd code: a write's ``StoreGuard`` did not hold (the writer lost its lease).
        /// On the keys API it is etcd's 101 with its own message, so etcd clients see a failed
        /// compare and `RemoteStore` tells the two apart (``forEtcdCode(_:message:)``).
        public static let guardFailed = Code("guardFailed", etcdCode: 101, httpStatus: 412, etcdMessage: "Guard failed")
        /// etcd's "Invalid POST form" with 413: a request body over the keys API's limit.
        public static let bodyTooLarge = Code("bodyTooLarge", etcdCode: 210, httpStatus: 413, etcdMessage: "Invalid POST form")
        /// Not an etcd code: a key containing `..` (etcd would resolve it; we refuse it), or one
        /// deeper or longer than ``StoreLimits`` allows.
        public static let invalidKey = Code("invalidKey", etcdCode: 209, httpStatus: 400, etcdMessage: "Invalid field")
        /// Not an etcd code: the store serves as many watches as ``WatchLimits`` allows. Sent
        /// as 503 with etcd's 300 (`Raft Internal Error`), which a client reads as "retry later".
        public static let tooManyWatchers = Code("tooManyWatchers", etcdCode: 300, httpStatus: 503, etcdMessage: "Too many watchers")

        public static let all: [Code] = [
            keyNotFound, compareFailed, notAFile, notADirectory, nodeExists, rootReadOnly, directoryNotEmpty,
            prevValueRequired, ttlNaN, indexNaN, invalidField, invalidForm, refreshValue, refreshTTLRequired,
            unavailable, indexCleared,
        ]
        public static func forEtcdCode(_ code: Int) -> Code {
            all.first { $0.etcdCode == code } ?? Code("etcd\(code)", etcdCode: code, httpStatus: 500, etcdMessage: "error \(code)")
        }
        /// The code for an error body: our own codes that share an etcd number (``guardFailed``)
        /// are told apart by their message, everything else by the number.
        public static func forEtcdCode(_ code: Int, message: String) -> Code {
            if code == guardFailed.etcdCode, message == guardFailed.etcdMessage { return guardFailed }
            return forEtcdCode(code)
        }
        public var description: String { etcdMessage }
    }

    public var code: Code
    /// What went wrong, naming the key (etcd's `cause`).
    public var cause: String
    /// The store index when the error happened (etcd's `index`).
    public var index: UInt64

    public init(_ code: Code, _ cause: String, index: UInt64 = 0) {
        self.code = code
        self.cause = cause
        self.index = index
    }

    public var description: String { "\(code.etcdMessage) (\(cause))" }

    public static func == (a: StoreError, b: StoreError) -> Bool { a.code == b.code && a.cause == b.cause }
    public func hash(into h: inout Hasher) { h.combine(code); h.combine(cause) }
}
