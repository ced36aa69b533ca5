import ArgumentParser
import Testing
@testable import fleetd

/// No plain TCP without `--insecure-plaintext` (issue 13 item 2): a listener asked for by name
/// is refused at start-up, the default keys listener is left out, and the flag allows both.
@Suite struct FleetdSettingsPlaintextTests {
    func settings(_ arguments: [String], environment: [String: String] = [:]) throws -> FleetdSettings {
        try FleetdSettings.parsed(arguments, environment: environment)
    }

    static let tls = ["--tls-ca", "ca.pem", "--tls-cert", "m.pem", "--tls-key", "m-key.pem"]

    @Test func withoutTLSTheDefaultKeysListenerIsLeftOut() throws {
        let plain = try settings([])
        #expect(plain.keysListen == nil)
        #expect(plain.skippedDefaultKeysListener)
        #expect(plain.apiListen == nil)
    }

    @Test func withTLSTheDefaultKeysListenerStays() throws {
        let secure = try settings(Self.tls)
        #expect(secure.keysListen?.host == "127.0.0.1" && secure.keysListen?.port == 4001)
        #expect(!secure.skippedDefaultKeysListener)
        #expect(secure.plaintextUses.isEmpty)
    }

    @Test(arguments: [["--keys-listen", "10.0.0.2:4001"], ["--api-listen", "10.0.0.2:4002"],
                      ["--keys-listen", "none", "--api-listen", "10.0.0.2:4002"]])
    func aListenerNamedWithoutTLSIsAStartUpError(arguments: [String]) throws {
        let error = #expect(throws: ValidationError.self) { try settings(arguments) }
        #expect(error?.message.contains("--insecure-plaintext") == true)
        #expect(error?.message.contains("--tls-ca") == true)
    }

    @Test func theEnvironmentNamesAListenerToo() throws {
        #expect(throws: ValidationError.self) { try settings([], environment: ["FLEET_KEYS_LISTEN": "127.0.0.1:4001"]) }
    }

    @Test func insecurePlaintextAllowsThemAndSaysWhatIsPlain() throws {
        let plain = try settings(["--insecure-plaintext", "--keys-listen", "10.0.0.2:4001", "--api-listen", "10.0.0.2:4002"])
        #expect(plain.keysListen?.port == 4001 && plain.apiListen?.port == 4002)
        #expect(plain.plaintextUses.contains("keys API on 10.0.0.2:4001"))
        #expect(plain.plaintextUses.contains("fleet API on 10.0.0.2:4002"))
        let byEnvironment = try settings([], environment: ["FLEET_INSECURE_PLAINTEXT": "1"])
        #expect(byEnvironment.keysListen?.port == 4001 && !byEnvironment.skippedDefaultKeysListener)
    }

    @Test func aPlainStoreNeedsTheFlagEvenWithTLS() throws {
        for extra in [[], Self.tls] {
            let error = #expect(throws: ValidationError.self) { try settings(["--store", "http://10.0.0.1:4001"] + extra) }
            #expect(error?.message.contains("--insecure-plaintext") == true)
        }
        let plain = try settings(["--store", "http://10.0.0.1:4001", "--insecure-plaintext"])
        #expect(plain.plaintextUses.contains("store at http://10.0.0.1:4001"))
        #expect(try settings(["--store", "https://10.0.0.1:4001"] + Self.tls).plaintextUses.isEmpty)
    }
}
