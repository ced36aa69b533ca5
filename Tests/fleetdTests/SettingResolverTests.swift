import Foundation
import Testing
@testable import fleetd

/// Precedence flag > FLEET_<KEY> > file > default, fleet's key names, errors that say where.
@Suite struct SettingResolverTests {
    static let idFile: String = {
        let path = NSTemporaryDirectory() + "machine-id-\(UUID().uuidString)"
        try? "0123456789abcdef0123456789abcdef\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    /// Settings from `arguments`, `environment` and a file holding `file`.
    func settings(_ arguments: [String] = [], environment: [String: String] = [:], file: String? = nil,
                  path: String = "/etc/fleet/fleet.conf") throws -> FleetdSettings {
        let command = try FleetdCommand.parse(arguments + ["--machine-id-file", Self.idFile])
        let parsed = try file.map { text throws(ConfigurationError) in try ConfigFile(parsing: Array(text.utf8), path: path) }
        return try FleetdSettings(sources: SettingSources(flags: command.givenOptions, environment: environment,
                                                          file: parsed))
    }

    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheFileWhichBeatsTheDefault() throws {
        let file = "public_ip=10.0.0.1\nmetadata=region=file\nagent_ttl=30s\ntoken_limit=7\n"
        let fromFile = try settings(file: file)
        #expect(fromFile.publicIP == "10.0.0.1")
        #expect(fromFile.metadata == ["region": "file"])
        #expect(fromFile.agentTTL == 30)
        #expect(fromFile.tokenLimit == 7)
        #expect(fromFile.dataDirectory == "/var/lib/fleet")
        #expect(fromFile.provenance.resolved["public_ip"]?.origin == .file(path: "/etc/fleet/fleet.conf", line: 1))
        #expect(fromFile.provenance.resolved["data_dir"]?.origin == .defaultValue)

        let environment = ["FLEET_PUBLIC_IP": "10.0.0.2", "FLEET_AGENT_TTL": "20"]
        let fromEnvironment = try settings(environment: environment, file: file)
        #expect(fromEnvironment.publicIP == "10.0.0.2")
        #expect(fromEnvironment.agentTTL == 20)
        #expect(fromEnvironment.metadata == ["region": "file"])
        #expect(fromEnvironment.provenance.resolved["public_ip"]?.origin == .environment("FLEET_PUBLIC_IP"))

        let fromFlag = try settings(["--public-ip", "10.0.0.3"], environment: environment, file: file)
        #expect(fromFlag.publicIP == "10.0.0.3")
        #expect(fromFlag.agentTTL == 20)
        #expect(fromFlag.provenance.resolved["public_ip"]?.origin == .flag("public-ip"))
    }

    @Test func switchesCanBeTurnedOffByTheEnvironmentOverTheFile() throws {
        #expect(try settings(file: "disable_engine=true").disableEngine)
        #expect(try !settings(environment: ["FLEET_DISABLE_ENGINE": "false"], file: "disable_engine=true").disableEngine)
        #expect(try settings(["--disable-engine"], environment: ["FLEET_DISABLE_ENGINE": "0"]).disableEngine)
        #expect(try settings(file: "verbosity=2").verbose)
        #expect(try !settings(file: "verbosity=0").verbose)
    }

    @Test func fleetsEtcdServersAndDurationsAreUnderstood() throws {
        let fleet = try settings(file: """
            etcd_servers=["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
            etcd_key_prefix=/_coreos.com/fleet/
            agent_ttl=1m30s
            """)
        #expect(fleet.store == .etcd(endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
                                     prefix: "/_coreos.com/fleet/", caFile: nil, certFile: nil, keyFile: nil))
        #expect(fleet.agentTTL == 90)
        #expect(fleet.keysListen == nil)
    }

    @Test(arguments: [
        ("agent_ttl=30", "30"), ("agent_ttl=30s", "30"), ("agent_ttl=2m", "120"), ("agent_ttl=1h", "3600"),
        ("agent_ttl=1.5m", "90"), ("agent_ttl=1500ms", nil), ("agent_ttl=1s", nil), ("agent_ttl=30x", nil),
        ("agent_ttl=99999999999999999999h", nil), ("agent_ttl=.", nil), ("agent_ttl=-5", nil),
    ] as [(String, String?)])
    func agentTTL(file: String, seconds: String?) throws {
        if let seconds {
            #expect(try settings(file: file).agentTTL == Int64(seconds))
        } else {
            let error = #expect(throws: ConfigurationError.self) { try settings(file: file) }
            #expect(error?.message.hasPrefix("/etc/fleet/fleet.conf:1: agent_ttl must be a whole number of seconds") == true,
                    "\(error?.message ?? "")")
        }
    }

    @Test func aBadValueNamesWhereItCameFrom() throws {
        let fromFile = #expect(throws: ConfigurationError.self) {
            try settings(file: "# c\npublic_ip=10.0.0.5\n\ntoken_limit=lots\n")
        }
        #expect(fromFile?.message == "/etc/fleet/fleet.conf:4: token_limit must be a whole number from 1 to 65535, not 'lots'")
        let fromEnvironment = #expect(throws: ConfigurationError.self) {
            try settings(environment: ["FLEET_MDNS": "perhaps"], file: "mdns=true")
        }
        #expect(fromEnvironment?.message == "FLEET_MDNS must be true or false, not 'perhaps'")
        let fromFlag = #expect(throws: ConfigurationError.self) { try settings(["--api-listen", "nowhere"]) }
        #expect(fromFlag?.message == "--api-listen must be HOST:PORT, e.g. 127.0.0.1:4001, not 'nowhere'")
    }

    @Test func emptyValuesMeanTheNextSource() throws {
        let fromFile = try settings(environment: ["FLEET_PUBLIC_IP": ""], file: "public_ip=10.0.0.1\ntoken_limit=\"\"")
        #expect(fromFile.publicIP == "10.0.0.1")
        #expect(fromFile.tokenLimit == 100)
    }

    @Test(arguments: ["public_ip=example.com", "public_ip=10.0.0.0/8", "dns_zone=.", "api_listen=:99999",
                      "dns_rate_limit_exempt=" + Array(repeating: "10.0.0.0/8", count: 1025).joined(separator: ","),
                      "etcd_servers=10.0.0.1:2379", "default_isolation=maybe", "metadata=novalue"])
    func badValuesAreRefused(line: String) {
        let error = #expect(throws: ConfigurationError.self) { try settings(file: line) }
        #expect(error?.code == .badValue)
        #expect(error?.message.hasPrefix("/etc/fleet/fleet.conf:1: ") == true, "\(error?.message ?? "")")
    }

    @Test func anUnknownKeyIsAnErrorWithASuggestion() throws {
        let typo = #expect(throws: ConfigurationError.self) { try settings(file: "public_ip=1.2.3.4\nagent_tll=30s\n") }
        #expect(typo?.code == .unknownKey)
        #expect(typo?.message == "/etc/fleet/fleet.conf:2: unknown key 'agent_tll' (did you mean 'agent_ttl'?)")
        let unrelated = #expect(throws: ConfigurationError.self) { try settings(file: "colour=blue") }
        #expect(unrelated?.message == "/etc/fleet/fleet.conf:1: unknown key 'colour'")
    }

    @Test func fleetKeysWithoutMeaningHereAreAcceptedAndReported() throws {
        let fleet = try settings(file: "engine_reconcile_interval=2\nenable_grpc=true\ndisable_watches=false\n")
        #expect(fleet.provenance.ignoredWarnings.count == 3)
        #expect(fleet.provenance.ignoredWarnings.first?.hasPrefix(
            "/etc/fleet/fleet.conf:1: engine_reconcile_interval is ignored: the engine plans on store events") == true)
        let password = #expect(throws: ConfigurationError.self) { try settings(file: "etcd_password=hunter2") }
        #expect(password?.code == .unsupported)
        #expect(password?.message.contains("hunter2") == false)
    }

    /// Issue 15's "done when": a fleet user's fleet.conf, with every key fleet documented, starts
    /// fleetd unchanged, and each key without meaning here is named.
    @Test func aFleetUsersConfigurationStartsUnchanged() throws {
        let fleet = try settings(file: """
            # /etc/fleet/fleet.conf from a CoreOS fleet machine
            verbosity=0
            etcd_servers=["http://10.0.0.1:2379","http://10.0.0.2:2379"]
            etcd_username=
            etcd_password=
            etcd_cafile=/etc/ssl/etcd/ca.pem
            etcd_certfile=/etc/ssl/etcd/client.pem
            etcd_keyfile=/etc/ssl/etcd/client-key.pem
            etcd_key_prefix="/_coreos.com/fleet/"
            etcd_request_timeout=1.0
            engine_reconcile_interval=2.0
            public_ip="10.0.0.12"
            metadata="region=us-west,az=us-west-1"
            agent_ttl="30s"
            units_directory=/run/fleet/units/
            systemd_user=false
            token_limit=100
            disable_engine=false
            disable_watches=false
            enable_grpc=false
            verify_units=false
            authorized_keys_file=
            """)
        #expect(fleet.store == .etcd(endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
                                     prefix: "/_coreos.com/fleet/", caFile: "/etc/ssl/etcd/ca.pem",
                                     certFile: "/etc/ssl/etcd/client.pem", keyFile: "/etc/ssl/etcd/client-key.pem"))
        #expect(fleet.publicIP == "10.0.0.12")
        #expect(fleet.metadata == ["region": "us-west", "az": "us-west-1"])
        #expect(fleet.agentTTL == 30)
        #expect(!fleet.verbose && !fleet.disableEngine && !fleet.systemdUser)
        // Empty values are fleet's defaults: nothing to report for them.
        #expect(fleet.provenance.ignored.map(\.key.name) == [
            "engine_reconcile_interval", "etcd_request_timeout", "disable_watches", "enable_grpc", "units_directory",
            "verify_units",
        ])
    }

    @Test func initStoreStaysOutOfTheFile() throws {
        let error = #expect(throws: ConfigurationError.self) { try settings(file: "init_store=true") }
        #expect(error?.message.hasPrefix("/etc/fleet/fleet.conf:1: init_store is for one start only") == true)
        #expect(try settings(environment: ["FLEET_INIT_STORE": "1"]).initStore)
    }

    @Test func storeAndEtcdServersTogetherAreRefused() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try settings(["--store", "http://10.0.0.1:4001"], file: "etcd_servers=http://10.0.0.1:2379")
        }
        #expect(error?.message.hasPrefix("--store cannot be used with etcd_servers (file /etc/fleet/fleet.conf:1)") == true)
    }

    /// Every option of the command maps to a key, and every key with a flag is an option.
    @Test func everyFlagHasAKey() throws {
        let help = FleetdCommand.helpMessage(columns: 10_000)
        // The OPTIONS section: one line per option, starting with its name (`-v, --verbose`).
        let flags = Set(help.split(separator: "\n").compactMap { line in
            line.firstMatch(of: /^\s+(?:-[a-z], )?--([a-z0-9-]+)/).map { String($0.1) }
        })
            .subtracting(["config", "print-config", "help", "version"])
        let keyed = Set(ConfigKey.all.compactMap(\.flag))
        #expect(flags == keyed)
        // And givenOptions passes each on under its key: a switch alone, an option with a value.
        for key in ConfigKey.all {
            guard let flag = key.flag else { continue }
            let command = try (try? FleetdCommand.parse(["--" + flag])) ?? FleetdCommand.parse(["--" + flag, "1"])
            #expect(command.givenOptions[key.name] != nil, "--\(flag) does not reach key \(key.name)")
        }
    }
}
