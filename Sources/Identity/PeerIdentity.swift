import X509

/// Who is at the other end of a TLS connection, as its certificate says: a role and, for a
/// machine, its machine ID. Only meaningful for a certificate whose chain was checked against
/// the cluster CA (the TLS handshake does that on fleetd's listeners).
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    public let role: ClusterRole
    /// Set for, and only for, ``ClusterRole/machine``.
    public let machineID: String?

    public init(role: ClusterRole, machineID: String?) {
        self.role = role
        self.machineID = machineID
    }

    /// Reads the role and machine ID back from `certificate`'s ``IdentityURI`` SANs. Exactly one
    /// role URI; a machine URI exactly when the role is `machine`; anything else is refused.
    public init(certificate: Certificate) throws {
        var roles: [String] = []
        var machines: [String] = []
        let names = try certificate.extensions.subjectAlternativeNames ?? SubjectAlternativeNames()
        for name in names {
            guard case .uniformResourceIdentifier(let uri) = name else { continue }
            if uri.hasPrefix(IdentityURI.rolePrefix) {
                roles.append(String(uri.dropFirst(IdentityURI.rolePrefix.count)))
            } else if uri.hasPrefix(IdentityURI.machinePrefix) {
                machines.append(String(uri.dropFirst(IdentityURI.machinePrefix.count)))
            }
        }
        guard roles.count == 1, let role = ClusterRole(rawValue: roles[0]) else {
            throw IdentityError(.badRole, "the certificate must name exactly one known fleet role (\(IdentityURI.rolePrefix)<role>), it names \(roles.count)")
        }
        switch (role, machines.count) {
        case (.machine, 1):
            guard IdentityURI.isValidMachineID(machines[0]) else {
                throw IdentityError(.badMachineID, "the certificate's machine ID is not valid")
            }
            self.init(role: role, machineID: machines[0])
        case (.machine, _):
            throw IdentityError(.badMachineID, "a machine certificate must name exactly one machine (\(IdentityURI.machinePrefix)<id>)")
        case (_, 0):
            self.init(role: role, machineID: nil)
        default:
            throw IdentityError(.badMachineID, "a \(role) certificate must not name a machine")
        }
    }

    public var description: String { machineID.map { "\(role) \($0)" } ?? role.rawValue }
}
