import Foundation
import Logging
import Testing
@testable import fleetd

/// `--config FILE`: a missing default is fine, a missing named file is not; a reload re-reads it.
@Suite struct FleetdCommandSettingsTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "fleetd-config-\(UUID().uuidString)/"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func command(_ arguments: [String]) throws -> FleetdCommand {
        try FleetdCommand.parse(arguments + ["--machine-id-file", SettingResolverTests.idFile])
    }

    @Test func aNamedFileIsRead() throws {
        let path = directory + "fleet.conf"
        try "public_ip=10.9.9.9\nmetadata=disk=ssd\n".write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try command(["--config", path]).settings(environment: [:])
        #expect(settings.publicIP == "10.9.9.9")
        #expect(settings.metadata == ["disk": "ssd"])
        // FLEET_CONFIG names it too.
        #expect(try command([]).settings(environment: ["FLEET_CONFIG": path]).publicIP == "10.9.9.9")
    }

    @Test func aMissingNamedFileOrADirectoryIsAnError() throws {
        let missing = #expect(throws: ConfigurationError.self) {
            try command(["--config", directory + "absent.conf"]).settings(environment: [:])
        }
        #expect(missing?.message == "\(directory)absent.conf: cannot read the configuration file: no such file")
        let folder = #expect(throws: ConfigurationError.self) {
            try command(["--config", directory]).settings(environment: [:])
        }
        #expect(folder?.code == .fileUnreadable)
    }

    @Test func aMissingDefaultFileIsFine() throws {
        #expect(try ConfigFile.load(path: directory + "not-there.conf", required: false) == nil)
    }

    @Test func aFileTooLargeIsRefusedBeforeItIsRead() throws {
        let path = directory + "huge.conf"
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(ConfigFile.maxBytes) + 1)  // sparse: nothing written
        try handle.close()
        let error = #expect(throws: ConfigurationError.self) { try ConfigFile.load(path: path, required: true) }
        #expect(error?.code == .fileTooLarge)
    }

    /// Item 4: SIGHUP's reload reads the file again; a file broken since start is reported and
    /// the running settings stay.
    @Test func aReloadRereadsTheFile() throws {
        let path = directory + "reload.conf"
        try "verbosity=0\n".write(toFile: path, atomically: true, encoding: .utf8)
        let command = try command(["--config", path])
        let running = try command.settings(environment: [:])
        #expect(!running.verbose)
        try "verbosity=1\nagent_ttl=20\n".write(toFile: path, atomically: true, encoding: .utf8)
        let levels = LogLevelSwitch(running.logLevel)
        let reload = FleetdReload(running: running, resolve: { try command.settings(environment: [:]) },
                                  logLevel: levels, logger: .init(label: "test"))
        reload()
        #expect(levels.level == .debug)
        #expect(running.changed(comparedTo: try command.settings(environment: [:])) == ["agentTTL", "engineLeaseTTL", "verbose"])
        try "verbosity=0\nagent_tll=20\n".write(toFile: path, atomically: true, encoding: .utf8)
        reload()
        #expect(levels.level == .debug, "a bad file must leave the running level alone")
    }
}
