import ArgumentParser
import Foundation
import Testing
@testable import fleetctl

@Suite struct GlobalFlagsTests {
    let commands = FleetctlCommand.commandNames

    @Test(arguments: [
        (["--debug", "list-units"], ["list-units", "--debug=true"]),
        (["--strict-host-key-checking=false", "--tunnel", "h:2222", "ssh", "m1"],
         ["ssh", "--strict-host-key-checking=false", "--tunnel", "h:2222", "m1"]),
        (["ssh", "m1", "--", "ls", "--debug"], ["ssh", "m1", "--", "ls", "--debug"]),
        (["--ca-file", "ca.pem", "--etcd-certfile", "c.pem", "list-m"], ["list-machines", "--ca-file", "ca.pem", "--etcd-certfile", "c.pem"]),
    ])
    func goStyleBooleansAndNewGlobalsRewrite(input: [String], output: [String]) {
        #expect(CommandLineRewriter.rewrite(input, commands: commands) == output)
    }

    @Test func driversOtherThanTheAPIAreRefusedClearly() throws {
        #expect(try FleetctlCommand.parseAsRoot(["list-units", "--driver", "API"]) is ListUnits)
        let etcd = #expect(throws: (any Error).self) { try FleetctlCommand.parseAsRoot(["list-units", "--driver", "etcd"]) }
        #expect(FleetctlCommand.fullMessage(for: etcd!).contains("the etcd driver is not supported"))
        let other = #expect(throws: (any Error).self) { try FleetctlCommand.parseAsRoot(["list-units", "--driver", "ftp"]) }
        #expect(FleetctlCommand.fullMessage(for: other!).contains("unrecognized driver \"ftp\""))
        let flag = #expect(throws: (any Error).self) { try FleetctlCommand.parseAsRoot(["list-units", "--debug=maybe"]) }
        #expect(FleetctlCommand.fullMessage(for: flag!).contains("--debug takes true or false"))
    }

    @Test func tlsNeedsCertificateAndKeyTogether() throws {
        let options = try GlobalOptions.parse(["--cert-file", "c.pem"])
        #expect(throws: (any Error).self) { try options.httpClient([:]) }
    }

    @Test func sshSettingsComeFromFlagsThenEnvironment() throws {
        let options = try GlobalOptions.parse(["--ssh-username", "root", "--strict-host-key-checking=false"])
        let ssh = options.ssh
        #expect(ssh.username == "root")
        #expect(!ssh.strictHostKeyChecking)
        #expect(ssh.knownHostsFile.hasSuffix("/.fleetctl/known_hosts"))
        #expect(try GlobalOptions.parse([]).ssh == SSHSettings(username: "core", timeout: 10, strictHostKeyChecking: true,
                                                                knownHostsFile: ssh.knownHostsFile))
    }
}

@Suite struct SSHTests {
    @Test func opensshArgumentsFollowFleetsFlags() {
        var settings = SSHSettings(username: "core", timeout: 2.5, strictHostKeyChecking: true, knownHostsFile: "/k")
        settings.port = 2222
        settings.forwardAgent = true
        #expect(settings.arguments(host: "10.0.0.2") == [
            "-l", "core", "-p", "2222", "-o", "ConnectTimeout=3", "-o", "StrictHostKeyChecking=ask",
            "-o", "UserKnownHostsFile=/k", "-A", "10.0.0.2",
        ])
        settings.strictHostKeyChecking = false
        #expect(settings.arguments(host: "h").contains("StrictHostKeyChecking=no"))
    }

    @Test(arguments: [("host", "host", nil), ("host:2222", "host", 2222), ("[fe80::1]:22", "fe80::1", 22), ("10.0.0.1", "10.0.0.1", nil)])
    func tunnelAddresses(address: String, host: String, port: Int?) {
        let split = SSHSettings.split(address)
        #expect(split.host == host)
        #expect(split.port == port)
    }

    @Test func theRemoteCommandIsEverythingAfterTheDestination() throws {
        let command = try #require(try FleetctlCommand.parseAsRoot(["ssh", "-A", "m1", "ls", "-l", "/"]) as? SSH)
        #expect(command.forwardAgent)
        #expect(command.arguments == ["m1", "ls", "-l", "/"])
        let flagged = try #require(try FleetctlCommand.parseAsRoot(["ssh", "--unit", "web@1", "--", "uptime"]) as? SSH)
        #expect(flagged.unit == "web@1")
        #expect(flagged.arguments.filter { $0 != "--" } == ["uptime"])
    }
}

@Suite struct JournalLinesTests {
    @Test func heartbeatsAreDroppedAndLinesSplitAcrossChunksJoined() {
        var lines = JournalLines()
        #expect(lines.feed(Array("one\n\u{0}\ntw".utf8)) == Data("one\n".utf8))
        #expect(lines.feed(Array("o\n\u{0}".utf8)) == Data("two\n".utf8))
        #expect(lines.feed(Array("\n\n".utf8)) == Data("\n".utf8))  // a heartbeat, then an empty line
        #expect(lines.feed(Array("tail".utf8)) == Data())
        #expect(lines.flush() == Data("tail".utf8))
    }
}
