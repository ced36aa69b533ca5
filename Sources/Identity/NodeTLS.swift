import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A node's TLS material: the cluster CA to trust, and its own certificate and key. From it
/// come the server configuration of fleetd's TCP listeners (a client certificate from the
/// cluster CA is required) and the client configuration of everything that calls a fleetd
/// (`fleetctl --endpoint https://`, `RemoteStore`, status and journal forwarding).
///
/// The files are read and checked once, when this is made, so a wrong path or a key that does
/// not match its certificate stops fleetd at start with a message naming the file.
public struct NodeTLS: Sendable {
    public let trustRoots: [NIOSSLCertificate]
    public let certificateChain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    /// Who the node's own certificate says it is.
    public let identity: PeerIdentity
    /// When the node's own certificate starts and stops being valid.
    public let validity: ClosedRange<Date>

    public init(caFile: String, certificateFile: String, keyFile: String) throws {
        let roots = try IdentityFiles.readCertificates(caFile)
        let chain = try IdentityFiles.readCertificates(certificateFile)
        let key = try IdentityFiles.readPrivateKey(keyFile)
        guard !roots.isEmpty else { throw IdentityError(.badPEM, "\(caFile) holds no certificate") }
        guard let leaf = chain.first else { throw IdentityError(.badPEM, "\(certificateFile) holds no certificate") }
        guard leaf.publicKey == key.publicKey else {
            throw IdentityError(.badPEM, "the key in \(keyFile) does not belong to the certificate in \(certificateFile)")
        }
        try self.init(trustRoots: roots, certificateChain: chain, privateKey: key)
    }

    /// The same from certificates in memory (`chain` starts with the node's own).
    public init(trustRoots roots: [Certificate], certificateChain chain: [Certificate],
                privateKey key: Certificate.PrivateKey) throws {
        guard let leaf = chain.first, leaf.publicKey == key.publicKey else {
            throw IdentityError(.badPEM, "the private key does not belong to the first certificate of the chain")
        }
        identity = try PeerIdentity(certificate: leaf)
        guard leaf.notValidBefore <= leaf.notValidAfter else {
            throw IdentityError(.badValidity, "the certificate stops being valid before it starts")
        }
        validity = leaf.notValidBefore...leaf.notValidAfter
        trustRoots = try roots.map(Self.nioCertificate)
        certificateChain = try chain.map(Self.nioCertificate)
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(try key.serializeAsPEM().pemString.utf8), format: .pem)
        } catch {
            throw IdentityError(.badPEM, "the key cannot be used for TLS: \(error)")
        }
    }

    /// For a listener: serve the node's certificate and require a client certificate that
    /// chains to the cluster CA. Client certificates carry no host name to check against.
    public var serverConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.trustRoots = .certificates(trustRoots)
        configuration.certificateVerification = .noHostnameVerification
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// For a client: present the node's certificate and trust only the cluster CA, checking
    /// that the server's certificate names the address or host name it was reached at.
    public var clientConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(trustRoots)
        configuration.certificateChain = certificateChain.map { .certificate($0) }
        configuration.privateKey = .privateKey(privateKey)
        configuration.certificateVerification = .fullVerification
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// The identity in a peer certificate BoringSSL has already checked against the cluster CA
    /// (a listener's handshake); nil if it names no valid fleet identity.
    public static func identity(of peer: NIOSSLCertificate) -> PeerIdentity? {
        guard let der = try? peer.toDERBytes() else { return nil }
        return PeerIdentityCache.shared.identity(of: der) {
            guard let certificate = try? Certificate(derEncoded: der) else { return nil }
            return try? PeerIdentity(certificate: certificate)
        }
    }

    static func nioCertificate(_ certificate: Certificate) throws -> NIOSSLCertificate {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
    }
}

extension NodeTLS {
    /// Refuses a certificate that is not this machine's, or not valid `now`: a fleetd serving
    /// and calling others as another machine (or as admin) would be refused its own presence
    /// writes by the store holder, or could write another machine's; and one with an expired
    /// (or not yet valid) certificate would fail every handshake, each peer refusing it. Better
    /// to stop at start, saying why.
    public func requireMachine(_ id: String, now: Date = Date()) throws {
        guard identity.role == .machine, identity.machineID == id else {
            throw IdentityError(.badMachineID, "the TLS certificate is for \(identity), but this is machine \(id): "
                + "issue one with fleetctl cluster issue --role machine --machine-id \(id)")
        }
        try requireCurrent(now: now)
    }

    /// Refuses a certificate outside its validity `now`, naming the dates (every peer would
    /// refuse it in the handshake; this says so once, at start, instead).
    public func requireCurrent(now: Date = Date()) throws {
        // The dates are formatted only for a refusal (fleetd stops then): an ISO8601DateFormatter
        // made up front, as before, opened an ICU formatter in every fleetd that started, and
        // ICU's code and data stayed mapped for the process's life.
        if now > validity.upperBound {
            throw IdentityError(.untrusted, "the TLS certificate (\(identity)) expired at \(validity.upperBound.formatted(.iso8601)): "
                + "issue a new one with fleetctl cluster issue")
        }
        if now < validity.lowerBound {
            throw IdentityError(.untrusted, "the TLS certificate (\(identity)) is not valid before \(validity.lowerBound.formatted(.iso8601)) "
                + "(is this machine's clock right?)")
        }
    }
}
