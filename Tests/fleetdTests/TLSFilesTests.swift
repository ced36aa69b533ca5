import ArgumentParser
import Foundation
import Testing
@testable import fleetd

/// `--tls-ca`, `--tls-cert`, `--tls-key`: all or none, and TLS makes the advertised API URL https.
@Suite struct TLSFilesTests {
    func settings(_ arguments: [String]) throws -> FleetdSettings {
        let idFile = NSTemporaryDirectory() + "machine-id-\(UUID().uuidString)"
        try "0123456789abcdef0123456789abcdef\n".write(toFile: idFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: idFile) }
        return try FleetdSettings(command: try FleetdCommand.parse(arguments + ["--machine-id-file", idFile]), environment: [:])
    }

    @Test func withoutTheFlagsAndWithInsecurePlaintextTheListenersArePlain() throws {
        let plain = try settings(["--api-listen", "10.0.0.2:4002", "--insecure-plaintext"])
        #expect(plain.tls == nil)
        #expect(plain.advertisedAPIURL == "http://10.0.0.2:4002")
    }

    @Test func allThreeTurnTLSOnAndTheAdvertisedURLIsHTTPS() throws {
        let secure = try settings(["--api-listen", "10.0.0.2:4002", "--tls-ca", "ca.pem", "--tls-cert", "m.pem",
                                   "--tls-key", "m-key.pem"])
        #expect(try secure.tls == TLSFiles(ca: "ca.pem", certificate: "m.pem", key: "m-key.pem"))
        #expect(secure.advertisedAPIURL == "https://10.0.0.2:4002")
    }

    @Test func someWithoutTheOthersIsRefusedNamingTheMissing() throws {
        let error = #expect(throws: ValidationError.self) { try settings(["--tls-ca", "ca.pem", "--tls-key", "k.pem"]) }
        #expect(error?.message.contains("--tls-cert") == true)
    }
}
