import ArgumentParser

/// `--tls-ca`, `--tls-cert` and `--tls-key`: all three or none.
struct TLSFiles: Sendable, Equatable {
    let ca: String
    let certificate: String
    let key: String

    /// nil when none is given; an error naming the missing ones when only some are.
    init?(ca: String?, certificate: String?, key: String?) throws {
        let given = [("--tls-ca", ca), ("--tls-cert", certificate), ("--tls-key", key)]
        let missing = given.filter { $0.1 == nil }.map(\.0)
        if missing.count == given.count { return nil }
        guard missing.isEmpty, let ca, let certificate, let key else {
            throw ValidationError("--tls-ca, --tls-cert and --tls-key go together; missing \(missing.joined(separator: ", "))")
        }
        self.ca = ca
        self.certificate = certificate
        self.key = key
    }
}
