/// A failure to make, read, store or check a cluster certificate. Callers branch on ``code``;
/// the message says what was wrong with which file or certificate.
public struct IdentityError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// A certificate names no role, two roles, or a role this version does not know.
        public static let badRole = Code(name: "bad-role")
        /// A machine certificate without a valid machine ID, or another role's certificate with one.
        public static let badMachineID = Code(name: "bad-machine-id")
        /// An IP address or DNS name that cannot go into a certificate.
        public static let badName = Code(name: "bad-name")
        /// A validity outside what is allowed (zero, negative, or over ``LeafRequest/maximumValidity``).
        public static let badValidity = Code(name: "bad-validity")
        /// The file to write exists already: a CA or key is never overwritten silently.
        public static let fileExists = Code(name: "file-exists")
        /// A file or directory could not be created, written or read.
        public static let fileSystem = Code(name: "file-system")
        /// A file's contents are not the PEM certificate or key expected.
        public static let badPEM = Code(name: "bad-pem")
        /// The chain does not lead to the cluster CA, or a certificate in it expired.
        public static let untrusted = Code(name: "untrusted")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
