import FleetTestSupport
import Foundation
import Testing
@testable import fleetd

/// fleet.conf's syntax (issue 15 item 1): key=value lines, comments, quotes; every problem
/// named with its file and line; bounded, and no input traps.
@Suite struct ConfigFileTests {
    func parse(_ text: String, path: String = "fleet.conf") throws(ConfigurationError) -> ConfigFile {
        try ConfigFile(parsing: Array(text.utf8), path: path)
    }

    @Test func fleetsSyntaxIsRead() throws {
        let file = try parse("""
            # fleet.conf as fleet documented it
            etcd_servers="http://10.0.0.1:2379,http://10.0.0.2:2379"
              public_ip = 10.0.0.5   # this machine
            ; an INI comment
            metadata='region=east,disk=ssd'
            agent_ttl=30s\r
            verbosity=

            """)
        #expect(file.entries.map(\.key) == ["etcd_servers", "public_ip", "metadata", "agent_ttl", "verbosity"])
        #expect(file.entry("etcd_servers")?.value == "http://10.0.0.1:2379,http://10.0.0.2:2379")
        #expect(file.entry("public_ip") == ConfigFile.Entry(key: "public_ip", value: "10.0.0.5", line: 3))
        #expect(file.entry("metadata")?.value == "region=east,disk=ssd")
        #expect(file.entry("agent_ttl")?.value == "30s")
        #expect(file.entry("verbosity")?.value == "")
    }

    @Test func aHashInsideAValueIsKept() throws {
        let file = try parse("metadata=rack=a#1\npublic_ip=\"10.0.0.5\" # quoted, then a comment\n")
        #expect(file.entry("metadata")?.value == "rack=a#1")
        #expect(file.entry("public_ip")?.value == "10.0.0.5")
    }

    @Test(arguments: [
        ("agent_ttl", "fleet.conf:1: expected key=value", ConfigurationError.Code.syntax),
        ("a=1\n[section]\n", "fleet.conf:2: sections are not used", .syntax),
        ("\n\npublic_ip=\"10.0.0.5\n", "fleet.conf:3: the value's opening \" is never closed", .syntax),
        ("public_ip=\"10.0.0.5\" x", "fleet.conf:1: text after the quoted value", .syntax),
        ("agent ttl=3", "fleet.conf:1: 'agent ttl' is not a key name", .syntax),
        ("=3", "fleet.conf:1: '' is not a key name", .syntax),
        ("a=1\nb=2\na=3\n", "fleet.conf:3: 'a' is set again (first on line 1)", .duplicateKey),
        ("a=\u{1}", "fleet.conf:1: control character", .syntax),
    ])
    func problemsNameTheLine(text: String, message: String, code: ConfigurationError.Code) {
        let error = #expect(throws: ConfigurationError.self) { try parse(text) }
        #expect(error?.code == code)
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "no error")")
    }

    @Test func bytesThatAreNotUTF8AreRefused() {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigFile(parsing: Array("a=1\nb=".utf8) + [0xFF, 0xFE], path: "f")
        }
        #expect(error?.message == "f:2: not UTF-8 text")
    }

    @Test func sizeLineLengthAndEntryCountAreBounded() {
        let big = #expect(throws: ConfigurationError.self) {
            try ConfigFile(parsing: [UInt8](repeating: UInt8(ascii: "#"), count: ConfigFile.maxBytes + 1), path: "f")
        }
        #expect(big?.code == .fileTooLarge)
        let long = #expect(throws: ConfigurationError.self) {
            try parse("a=1\nb=" + String(repeating: "x", count: ConfigFile.maxLineBytes))
        }
        #expect(long?.code == .lineTooLong)
        #expect(long?.message.hasPrefix("fleet.conf:2:") == true)
        let many = #expect(throws: ConfigurationError.self) {
            try parse((0...ConfigFile.maxEntries).map { "k\($0)=v" }.joined(separator: "\n"))
        }
        #expect(many?.code == .tooManyEntries)
    }

    /// Junk of every kind: the parser answers or throws ConfigurationError, never traps.
    @Test func junkNeverTraps() async {
        let alphabet = Array("=#;\"' \t\r\n[]ab_z09.,:/\\".utf8) + [0, 0x7F, 0xC3, 0xA9, 0xFF, 0xE2, 0x80]
        let budget = FuzzBudget("fleet.conf parser", seed: 0xC0_4F16, cases: 3000)
        await budget.run { generator in
            let count = Int.random(in: 0...400, using: &generator)
            let bytes = (0..<count).map { _ in alphabet.randomElement(using: &generator)! }
            do {
                let file = try ConfigFile(parsing: bytes, path: "junk")
                // What parses must resolve without trapping too.
                if let sources = try? SettingSources(flags: [:], environment: [:], file: file) {
                    _ = try? FleetdSettings(sources: sources)
                }
            } catch {
                #expect(error is ConfigurationError)
            }
            return true
        }
    }
}
