import Foundation
import Testing
@testable import fleetd

/// `fleetd --print-config`: the effective settings, where each came from, no secrets.
@Suite struct SettingProvenanceTests {
    @Test func everySettingIsShownWithItsOrigin() throws {
        let idFile = SettingResolverTests.idFile
        let file = try ConfigFile(parsing: Array("""
            # fleet.conf
            public_ip="10.0.0.5"
            metadata=region=east
            agent_ttl=30s
            tls_ca=/etc/fleet/ca.pem
            tls_cert=/etc/fleet/m.pem
            tls_key=/etc/fleet/secret-key.pem
            enable_grpc=true
            """.utf8), path: "/etc/fleet/fleet.conf")
        let command = try FleetdCommand.parse(["--machine-id-file", idFile, "--agent-ttl", "20"])
        let settings = try FleetdSettings(sources: SettingSources(
            flags: command.givenOptions, environment: ["FLEET_DATA_DIR": "/srv/fleet"], file: file))
        let lines = settings.provenance.rendered.split(separator: "\n").map(String.init)
        func line(_ key: String) -> String? { lines.first { $0.hasPrefix(key + " = ") } }

        #expect(lines.first == "# configuration file /etc/fleet/fleet.conf")
        #expect(line("public_ip")?.hasSuffix("# file /etc/fleet/fleet.conf:2") == true)
        #expect(line("public_ip")?.hasPrefix("public_ip = 10.0.0.5 ") == true)
        #expect(line("agent_ttl")?.hasPrefix("agent_ttl = 20 ") == true)
        #expect(line("agent_ttl")?.hasSuffix("# flag --agent-ttl") == true)
        #expect(line("data_dir")?.hasSuffix("# env FLEET_DATA_DIR") == true)
        #expect(line("token_limit")?.hasPrefix("token_limit = 100 ") == true)
        #expect(line("token_limit")?.hasSuffix("# default") == true)
        #expect(line("engine_lease_ttl")?.hasPrefix("engine_lease_ttl = 20 ") == true)  // follows the TTL
        #expect(line("tls_key")?.hasPrefix("tls_key = (set) ") == true)
        #expect(!settings.provenance.rendered.contains("secret-key.pem"))
        #expect(lines.last?.hasPrefix("# enable_grpc = true ") == true)
        #expect(lines.last?.contains("ignored: engine and agents talk through the store only") == true)
        // Every used key has a line, in the table's order; init_store commented out (not for a file).
        let shown = lines.filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != " " }) }
        #expect(shown == ConfigKey.all.filter { $0.use == .used && $0.inFile }.map(\.name))
        #expect(lines.contains { $0.hasPrefix("# init_store = false ") })
    }

    @Test func theOutputReadsBackAsAConfigurationFile() throws {
        let idFile = SettingResolverTests.idFile
        let first = try FleetdSettings(sources: SettingSources(
            flags: try FleetdCommand.parse(["--machine-id-file", idFile, "--metadata", "a=1,b=2",
                                            "--dns-rate-limit-exempt", "10.0.0.0/8"]).givenOptions,
            environment: [:], file: nil))
        let printed = first.provenance.rendered
        // Secrets print as "(set)" and none is set here; the printout is itself a valid fleet.conf.
        let file = try ConfigFile(parsing: Array(printed.utf8), path: "printed")
        let again = try FleetdSettings(sources: SettingSources(flags: [:], environment: [:], file: file))
        #expect(first.changed(comparedTo: again).isEmpty)
    }
}

/// docs/fleet.conf.example lists every key with the default fleetd really has.
@Suite struct FleetConfExampleTests {
    @Test func theExampleNamesEveryKeyWithItsDefault() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let example = try String(contentsOf: root.appendingPathComponent("docs/fleet.conf.example"), encoding: .utf8)
        var shown: [String: String] = [:]
        for line in example.split(separator: "\n") {
            guard let match = line.firstMatch(of: /^#([a-z_]+)=(\S*)/) else { continue }
            shown[String(match.1)] = String(match.2)
        }
        for key in ConfigKey.all where key.inFile {
            if case .unsupported = key.use { continue }
            #expect(shown[key.name] != nil, "docs/fleet.conf.example does not show \(key.name)")
        }
        // Defaults as fleetd resolves them with nothing set (public_ip is found at run time).
        let defaults = try FleetdSettings(sources: SettingSources(
            flags: ["machine_id_file": SettingResolverTests.idFile], environment: [:], file: nil)).provenance.resolved
        for key in ConfigKey.all where key.use == .used && key.inFile && !["public_ip", "machine_id_file"].contains(key.name) {
            let expected = defaults[key.name]?.text ?? ""
            #expect(shown[key.name] == expected, "docs/fleet.conf.example: \(key.name) shows '\(shown[key.name] ?? "-")', fleetd's default is '\(expected)'")
        }
    }
}
