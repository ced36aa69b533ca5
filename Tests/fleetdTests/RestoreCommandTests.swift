import ArgumentParser
import Foundation
import Testing
@testable import fleetd

/// `fleetd restore FILE` restores the store fleetd itself would open: fleetd's `--config` and
/// `--data-dir`, wherever they stand on the command line, then the environment and the file.
@Suite struct RestoreCommandTests {
    let config: String = {
        let directory = NSTemporaryDirectory() + "fleetd-restore-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/fleet.conf"
        try? "data_dir=/srv/from-file\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    func restore(_ arguments: [String]) throws -> RestoreCommand {
        let parsed = try FleetdCommand.parseAsRoot(arguments)
        return try #require(parsed as? RestoreCommand)
    }

    /// A regression: the subcommand's own --data-dir was taken by fleetd's, so a restore fell
    /// back to /var/lib/fleet whatever the command line said.
    @Test(arguments: [
        ["restore", "--config", "CONFIG", "--data-dir", "/srv/flag", "backup.db"],
        ["--config", "CONFIG", "--data-dir", "/srv/flag", "restore", "backup.db"],
        ["restore", "backup.db", "--data-dir", "/srv/flag", "--config", "CONFIG"],
    ])
    func theDataDirectoryFlagIsFleetds(arguments: [String]) throws {
        let command = try restore(arguments.map { $0 == "CONFIG" ? config : $0 })
        #expect(command.file == "backup.db")
        #expect(try command.dataDirectory(environment: [:]) == "/srv/flag")
    }

    @Test func theEnvironmentAndTheFileNameItToo() throws {
        #expect(try restore(["restore", "--config", config, "b.db"]).dataDirectory(environment: [:]) == "/srv/from-file")
        #expect(try restore(["restore", "b.db"]).dataDirectory(environment: ["FLEET_CONFIG": config, "FLEET_DATA_DIR": "/srv/env"])
                == "/srv/env")
    }

    @Test func aFleetdOnAnotherStoreIsRefused() throws {
        let etcd = #expect(throws: ValidationError.self) {
            try restore(["restore", "--config", config, "--etcd-servers", "http://10.0.0.1:2379", "b.db"]).dataDirectory(environment: [:])
        }
        #expect(etcd?.message.contains("etcdutl snapshot restore") == true)
        let remote = #expect(throws: ValidationError.self) {
            try restore(["restore", "--config", config, "--store", "https://10.0.0.1:4001", "b.db"]).dataDirectory(environment: [:])
        }
        #expect(remote?.message.contains("restore on the machine that holds the store") == true)
    }
}
