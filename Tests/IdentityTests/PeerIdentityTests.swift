import Crypto
import Foundation
import Testing
import X509

@testable import FleetIdentity

@Suite("PeerIdentity")
struct PeerIdentityTests {
    /// A certificate with exactly `uris` as its SAN URIs, signed by its own key.
    func certificate(uris: [String]) throws -> Certificate {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName { CommonName("test") }
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(uris.map { .uniformResourceIdentifier($0) })
        }
        return try Certificate(version: .v3, serialNumber: .init(), publicKey: key.publicKey,
                               notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(60),
                               issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                               extensions: extensions, issuerPrivateKey: key)
    }

    @Test("certificates that do not name one identity clearly are refused")
    func refused() throws {
        let cases: [([String], IdentityError.Code)] = [
            ([], .badRole),
            (["fleet://role/root"], .badRole),
            (["fleet://role/admin", "fleet://role/machine"], .badRole),
            (["fleet://role/machine"], .badMachineID),
            (["fleet://role/machine", "fleet://machine/a", "fleet://machine/b"], .badMachineID),
            (["fleet://role/machine", "fleet://machine/a b"], .badMachineID),
            (["fleet://role/discovery-reader", "fleet://machine/a"], .badMachineID),
        ]
        for (uris, code) in cases {
            let error = #expect(throws: IdentityError.self) { try PeerIdentity(certificate: try certificate(uris: uris)) }
            #expect(error?.code == code, "\(uris)")
        }
    }

    @Test("other SANs are ignored")
    func otherNames() throws {
        let identity = try PeerIdentity(certificate: try certificate(uris: ["https://example.com", "fleet://role/admin"]))
        #expect(identity == PeerIdentity(role: .admin, machineID: nil))
    }
}
