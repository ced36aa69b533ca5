import X509

/// A certificate and its private key, as the CA issued them.
public struct IssuedCertificate: Sendable {
    public let certificate: Certificate
    public let privateKey: Certificate.PrivateKey

    public init(certificate: Certificate, privateKey: Certificate.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString } }
    public var privateKeyPEM: String { get throws { try privateKey.serializeAsPEM().pemString } }
}
