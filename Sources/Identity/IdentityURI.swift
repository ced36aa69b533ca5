/// How a role and a machine ID are written into a certificate: as subject alternative name
/// URIs, `fleet://role/<role>` and `fleet://machine/<id>`.
///
/// SAN URIs rather than a private extension or the subject's OU: every TLS library and
/// `openssl x509 -text` shows them, they need no OID of our own, and they cannot be confused
/// with the DNS names and IPs the same certificate carries to serve.
public enum IdentityURI {
    static let rolePrefix = "fleet://role/"
    static let machinePrefix = "fleet://machine/"
    /// Machine IDs are `/etc/machine-id`'s 32 hex characters; we accept any short token of
    /// letters, digits, `-`, `_` and `.` so that test rigs can use readable names.
    public static let maximumMachineIDLength = 128

    public static func role(_ role: ClusterRole) -> String { rolePrefix + role.rawValue }
    public static func machine(_ id: String) -> String { machinePrefix + id }

    /// Whether `id` may be written into a certificate and read back unchanged.
    public static func isValidMachineID(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= maximumMachineIDLength, id != ".", id != ".." else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
    }
}
