#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SwiftASN1
import X509

/// Certificates and keys on disk: a directory only its owner can enter (0700), keys 0600,
/// certificates 0644. Files are created with `O_EXCL | O_NOFOLLOW`, so nothing is ever
/// overwritten (a CA least of all) and a symlink planted in the directory is not followed.
public struct IdentityFiles: Sendable {
    public static let caCertificate = "ca.pem"
    public static let caKey = "ca-key.pem"
    /// Files larger than this are not certificates or keys of ours.
    public static let maximumFileBytes = 1 << 20

    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func path(_ name: String) -> String { directory + "/" + name }

    /// Creates the directory (0700, its missing parents with the usual modes) if it is missing;
    /// an existing one must be a directory, not a symlink.
    public func prepare() throws {
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        if mkdir(directory, 0o700) == 0 { return }
        let error = errno
        guard error == EEXIST else { throw Self.failure("cannot create directory \(directory)", error) }
        var info = stat()
        guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw IdentityError(.fileSystem, "\(directory) exists and is not a directory")
        }
    }

    /// Whether `name` exists (as anything, a dangling symlink too).
    public func exists(_ name: String) -> Bool {
        var info = stat()
        return lstat(path(name), &info) == 0
    }

    /// Writes `contents` to a new file `name` with `mode`; refuses if it exists.
    public func create(_ name: String, contents: String, mode: mode_t) throws {
        let target = path(name)
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let error = errno
            if error == EEXIST {
                throw IdentityError(.fileExists, "\(target) exists already; it is never overwritten (move it away first)")
            }
            throw Self.failure("cannot create \(target)", error)
        }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else { throw Self.failure("cannot set the mode of \(target)", errno) }
        var bytes = Array(contents.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot write \(target)", errno)
            }
            bytes = bytes.dropFirst(written)
        }
        guard fsync(fd) == 0 else { throw Self.failure("cannot sync \(target)", errno) }
    }

    /// Writes an issued certificate and its key as `<prefix>.pem` (0644) and `<prefix>-key.pem` (0600).
    public func create(_ issued: IssuedCertificate, prefix: String) throws {
        for name in [prefix + ".pem", prefix + "-key.pem"] where exists(name) {
            throw IdentityError(.fileExists, "\(path(name)) exists already; it is never overwritten (move it away first)")
        }
        try create(prefix + "-key.pem", contents: Self.textFile(try issued.privateKeyPEM), mode: 0o600)
        try create(prefix + ".pem", contents: Self.textFile(try issued.certificatePEM), mode: 0o644)
    }

    /// `text` ending in a newline, as a text file should: a CA bundle is made with
    /// `cat old/ca.pem new/ca.pem` (rotating the CA), and without it the first file's END line
    /// runs into the second's BEGIN line, which no PEM reader (openssl, BoringSSL) accepts.
    static func textFile(_ text: String) -> String {
        text.hasSuffix("\n") ? text : text + "\n"
    }

    /// Writes a new CA's `ca.pem` and `ca-key.pem`; refuses if either exists.
    public func create(_ ca: ClusterCA) throws {
        try create(IssuedCertificate(certificate: ca.certificate, privateKey: ca.privateKey), prefix: "ca")
    }

    /// The CA in this directory (`ca.pem`, `ca-key.pem`).
    public func loadCA() throws -> ClusterCA {
        guard let certificate = try Self.readCertificates(path(Self.caCertificate)).first else {
            throw IdentityError(.badPEM, "\(path(Self.caCertificate)) holds no certificate")
        }
        return try ClusterCA(certificate: certificate, privateKey: try Self.readPrivateKey(path(Self.caKey)))
    }

    /// Every certificate in a PEM file (a bundle may hold several).
    public static func readCertificates(_ path: String) throws -> [Certificate] {
        let text = try readText(path)
        do {
            return try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
        } catch {
            throw IdentityError(.badPEM, "\(path) is not a PEM certificate file: \(error)")
        }
    }

    public static func readPrivateKey(_ path: String) throws -> Certificate.PrivateKey {
        let text = try readText(path)
        do {
            return try Certificate.PrivateKey(pemEncoded: text)
        } catch {
            throw IdentityError(.badPEM, "\(path) is not a PEM private key")
        }
    }

    /// A file's text, at most ``maximumFileBytes``, not through a symlink's last component.
    static func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open \(path)", errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read \(path)", errno)
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= maximumFileBytes else {
                throw IdentityError(.badPEM, "\(path) is larger than \(maximumFileBytes) bytes")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func failure(_ what: String, _ error: Int32) -> IdentityError {
        IdentityError(.fileSystem, "\(what): \(String(cString: strerror(error)))")
    }
}
