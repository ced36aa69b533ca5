import Foundation
import Testing

@testable import FleetIdentity

@Suite("IdentityFiles")
struct IdentityFilesTests {
    /// Runs `body` with a fresh prepared directory, removed afterwards.
    func withFiles(_ body: (IdentityFiles) throws -> Void) throws {
        let files = IdentityFiles(directory: NSTemporaryDirectory() + "fleet-identity-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        try files.prepare()
        try body(files)
    }

    func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? Int) ?? -1
    }

    @Test("a CA is written 0600/0644 in a 0700 directory, read back, and never overwritten")
    func caFiles() throws {
        try withFiles { files in
            let ca = try ClusterCA.create()
            try files.create(ca)
            #expect(try mode(files.directory) == 0o700)
            #expect(try mode(files.path("ca-key.pem")) == 0o600)
            #expect(try mode(files.path("ca.pem")) == 0o644)
            #expect(try files.loadCA().certificate == ca.certificate)
            let error = #expect(throws: IdentityError.self) { try files.create(try ClusterCA.create()) }
            #expect(error?.code == .fileExists)
            #expect(try files.loadCA().certificate == ca.certificate)
        }
    }

    @Test("a symlink in place of a new file is not followed")
    func symlink() throws {
        try withFiles { files in
            let victim = files.directory + "/victim"
            FileManager.default.createFile(atPath: victim, contents: Data("keep".utf8))
            try FileManager.default.createSymbolicLink(atPath: files.path("admin-key.pem"), withDestinationPath: victim)
            let issued = try ClusterCA.create().issue(LeafRequest(role: .admin))
            #expect(throws: IdentityError.self) { try files.create(issued, prefix: "admin") }
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep")
        }
    }

    @Test("the TLS material loads, and a key of another certificate is refused")
    func nodeTLS() throws {
        try withFiles { files in
            let ca = try ClusterCA.create()
            try files.create(ca)
            try files.create(try ca.issue(LeafRequest(role: .machine, machineID: "m1", ipAddresses: ["127.0.0.1"])), prefix: "m1")
            try files.create(try ca.issue(LeafRequest(role: .admin)), prefix: "admin")
            let tls = try NodeTLS(caFile: files.path("ca.pem"), certificateFile: files.path("m1.pem"), keyFile: files.path("m1-key.pem"))
            #expect(tls.identity == PeerIdentity(role: .machine, machineID: "m1"))
            #expect(NodeTLS.identity(of: tls.certificateChain[0]) == tls.identity)
            try tls.requireMachine("m1")
            #expect(throws: IdentityError.self) { try tls.requireMachine("m2") }
            let admin = try NodeTLS(caFile: files.path("ca.pem"), certificateFile: files.path("admin.pem"),
                                    keyFile: files.path("admin-key.pem"))
            #expect(throws: IdentityError.self) { try admin.requireMachine("m1") }
            let error = #expect(throws: IdentityError.self) {
                try NodeTLS(caFile: files.path("ca.pem"), certificateFile: files.path("m1.pem"), keyFile: files.path("admin-key.pem"))
            }
            #expect(error?.code == .badPEM)
        }
    }

    @Test("PEM files end with a newline, so two CAs joined with cat make a bundle of both")
    func bundle() throws {
        try withFiles { old in
            try old.create(try ClusterCA.create())
            let new = IdentityFiles(directory: old.directory + "/new")
            try new.prepare()
            try new.create(try ClusterCA.create())
            let oldText = try String(contentsOfFile: old.path("ca.pem"), encoding: .utf8)
            let newText = try String(contentsOfFile: new.path("ca.pem"), encoding: .utf8)
            #expect(oldText.hasSuffix("-----\n") && newText.hasSuffix("-----\n"))
            let both = old.path("both.pem")
            try (oldText + newText).write(toFile: both, atomically: false, encoding: .utf8)
            #expect(try IdentityFiles.readCertificates(both).count == 2)
            #expect(try String(contentsOfFile: old.path("ca-key.pem"), encoding: .utf8).hasSuffix("-----\n"))
        }
    }
}
