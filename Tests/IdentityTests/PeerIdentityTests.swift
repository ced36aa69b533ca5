import Crypto
import Foundation
import Testing
import SwiftASN1
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

    /// The cache of identities by certificate bytes never answers one certificate with
    /// another's identity, and an unreadable certificate is not remembered.
    @Test("identities are cached by the certificate's bytes, never mixed up")
    func cachedByBytes() throws {
        let cache = PeerIdentityCache()
        var reads = 0
        let machines = try (0..<3).map { index in
            try certificate(uris: ["fleet://role/machine", "fleet://machine/m\(index)"])
        }
        for _ in 0..<2 {
            for (index, machine) in machines.enumerated() {
                var serializer = DER.Serializer()
                try serializer.serialize(machine)
                let identity = cache.identity(of: serializer.serializedBytes) {
                    reads += 1
                    return try? PeerIdentity(certificate: machine)
                }
                #expect(identity == PeerIdentity(role: .machine, machineID: "m\(index)"))
            }
        }
        #expect(reads == 3, "each certificate is parsed once")
        #expect(cache.identity(of: [1, 2, 3]) { nil } == nil)
        #expect(cache.identity(of: [1, 2, 3]) { PeerIdentity(role: .admin, machineID: nil) }?.role == .admin,
                "a certificate that named nobody was not remembered")
    }
}
