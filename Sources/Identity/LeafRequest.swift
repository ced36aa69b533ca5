import Foundation

/// What a leaf certificate is issued for: a role, the machine it names (role `machine` only),
/// and the addresses it may serve on.
public struct LeafRequest: Sendable, Hashable {
    /// Default validity of machine and admin certificates: a year.
    public static let defaultValidity: Duration = .seconds(365 * 24 * 3600)
    /// No leaf lives longer than the CA's default life.
    public static let maximumValidity: Duration = ClusterCA.defaultValidity
    /// Bounds on the names one certificate carries (each is in every handshake).
    public static let maximumNames = 64
    public static let maximumDNSNameLength = 253

    public var role: ClusterRole
    public var machineID: String?
    /// IPv4 or IPv6 addresses in text form (`10.0.0.2`, `::1`).
    public var ipAddresses: [String]
    public var dnsNames: [String]
    public var validity: Duration
    /// Certificates start this long before they are issued, so a peer whose clock is a little
    /// behind does not refuse a certificate made a moment ago.
    public var backdate: Duration

    public init(role: ClusterRole, machineID: String? = nil, ipAddresses: [String] = [], dnsNames: [String] = [],
                validity: Duration = LeafRequest.defaultValidity, backdate: Duration = .seconds(300)) {
        self.role = role
        self.machineID = machineID
        self.ipAddresses = ipAddresses
        self.dnsNames = dnsNames
        self.validity = validity
        self.backdate = backdate
    }

    /// Refuses a request whose certificate could not be read back as the same identity.
    func validate() throws {
        switch (role, machineID) {
        case (.machine, let id?) where IdentityURI.isValidMachineID(id): break
        case (.machine, _):
            throw IdentityError(.badMachineID, "a machine certificate needs a machine ID of 1-\(IdentityURI.maximumMachineIDLength) letters, digits, '-', '_' or '.'")
        case (_, nil): break
        case (_, .some):
            throw IdentityError(.badMachineID, "only a machine certificate names a machine ID")
        }
        guard ipAddresses.count + dnsNames.count <= Self.maximumNames else {
            throw IdentityError(.badName, "at most \(Self.maximumNames) IP addresses and DNS names in one certificate")
        }
        for name in dnsNames where !Self.isValidDNSName(name) {
            throw IdentityError(.badName, "'\(name)' is not a DNS name")
        }
        guard validity > .zero, validity <= Self.maximumValidity, backdate >= .zero, backdate <= validity else {
            throw IdentityError(.badValidity, "a certificate's validity must be more than zero and at most ten years")
        }
    }

    static func isValidDNSName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maximumDNSNameLength else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x2A
            }
        }
    }
}
