import Crypto
import Foundation
import SwiftASN1
import X509

/// The cluster's certificate authority: a P-256 key and its self-signed certificate. Every
/// certificate fleet trusts was issued by it; whoever holds its key can admit machines and
/// operators, so the key stays with the operator (`fleetctl cluster init`), not on machines.
public struct ClusterCA: Sendable {
    /// Ten years: the CA outlives the certificates it issues.
    public static let defaultValidity: Duration = .seconds(10 * 365 * 24 * 3600)

    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey

    public init(certificate: Certificate, privateKey: Certificate.PrivateKey) throws {
        guard certificate.publicKey == privateKey.publicKey else {
            throw IdentityError(.badPEM, "the CA key does not belong to the CA certificate")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// A new CA named `name` (the subject's common name), valid from a few minutes ago for `validity`.
    public static func create(name: String = "fleet cluster CA", validity: Duration = defaultValidity,
                              now: Date = Date()) throws -> ClusterCA {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName {
            OrganizationName("fleet")
            CommonName(name)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: key.publicKey)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(validity.seconds),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: key)
        return try ClusterCA(certificate: certificate, privateKey: key)
    }

    /// A leaf certificate and its new P-256 key for `request`: the role and machine as
    /// ``IdentityURI`` SANs, the IPs and DNS names to serve on, usable as a TLS server and client.
    public func issue(_ request: LeafRequest, now: Date = Date()) throws -> IssuedCertificate {
        try request.validate()
        var names: [GeneralName] = [.uniformResourceIdentifier(IdentityURI.role(request.role))]
        if let id = request.machineID { names.append(.uniformResourceIdentifier(IdentityURI.machine(id))) }
        names += request.dnsNames.map { .dnsName($0) }
        for ip in request.ipAddresses {
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(try IPAddressBytes.parse(ip)))))
        }
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName {
            OrganizationName("fleet")
            OrganizationalUnitName(request.role.rawValue)
            CommonName(request.machineID ?? request.role.rawValue)
        }
        let authorityKey = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectKeyIdentifier(hash: key.publicKey)
            AuthorityKeyIdentifier(keyIdentifier: authorityKey)
            SubjectAlternativeNames(names)
        }
        let notAfter = min(now.addingTimeInterval(request.validity.seconds), certificate.notValidAfter)
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-request.backdate.seconds), notValidAfter: notAfter,
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: privateKey)
        return IssuedCertificate(certificate: leaf, privateKey: key)
    }
}

extension Duration {
    var seconds: TimeInterval {
        let (whole, fraction) = components
        return TimeInterval(whole) + TimeInterval(fraction) / 1e18
    }
}
