import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import UnixSignals
@testable import fleetd

/// Issue 12: SIGHUP reloads instead of ending fleetd.
@Suite(.serialized) struct ConfigurationReloaderTests {
    /// Before: no handler, so SIGHUP's default action ended the process (here, the test runner).
    @Test func aHangupIsAReloadAndTheServiceKeepsRunning() async throws {
        let hangups = await ConfigurationReloader.trapHangups()
        let (reloads, reloaded) = AsyncStream.makeStream(of: Void.self)
        let reloader = ConfigurationReloader(hangups: hangups, reload: { reloaded.yield() }, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await reloader.run() }
            // Two in a row: the first must not have ended anything.
            let answered = try await withTimeout(.seconds(10)) {
                var iterator = reloads.makeAsyncIterator()
                var count = 0
                for _ in 0..<2 {
                    kill(getpid(), SIGHUP)
                    guard await iterator.next() != nil else { break }
                    count += 1
                }
                return count
            }
            #expect(answered == 2, "two SIGHUPs did not both reach the reloader within 10 s")
            group.cancelAll()
        }
    }

    func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T?) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await body() }
            group.addTask { try await Task.sleep(for: limit); return nil }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

@Suite struct FleetdReloadTests {
    func settings(_ arguments: [String]) throws -> FleetdSettings {
        let idFile = NSTemporaryDirectory() + "machine-id-\(UUID().uuidString)"
        try "0123456789abcdef0123456789abcdef\n".write(toFile: idFile, atomically: true, encoding: .utf8)
        let command = try FleetdCommand.parse(arguments + ["--machine-id-file", idFile])
        return try FleetdSettings(command: command, environment: [:])
    }

    @Test func theLogLevelIsAppliedAndOtherChangesNamed() throws {
        let running = try settings(["--agent-ttl", "10"])
        let fresh = try settings(["--agent-ttl", "20", "--verbose"])
        #expect(running.changed(comparedTo: fresh) == ["agentTTL", "engineLeaseTTL", "verbose"])  // the lease follows the TTL
        #expect(running.changed(comparedTo: running).isEmpty)
        let levels = LogLevelSwitch(.info)
        FleetdReload(running: running, resolve: { fresh }, logLevel: levels, logger: Logger(label: "test"))()
        #expect(levels.level == .debug)
    }

    @Test func metadataInAnotherOrderIsNoChange() throws {
        let keys = (0..<40).map { "k\($0)=v\($0)" }
        let running = try settings(["--metadata", keys.joined(separator: ",")])
        let fresh = try settings(["--metadata", keys.reversed().joined(separator: ",")])
        #expect(running.changed(comparedTo: fresh).isEmpty)
        #expect(running.changed(comparedTo: try settings(["--metadata", "k0=other"])) == ["metadata"])
    }

    @Test func aReloadThatFailsKeepsTheRunningConfiguration() throws {
        struct Unreadable: Error {}
        let levels = LogLevelSwitch(.info)
        FleetdReload(running: try settings([]), resolve: { throw Unreadable() }, logLevel: levels, logger: Logger(label: "test"))()
        #expect(levels.level == .info)
    }

    @Test func aLoggersOwnFloorStaysAboveTheSwitch() {
        let levels = LogLevelSwitch(.info)
        var handler = SwitchedLogHandler(wrapping: StreamLogHandler.standardError(label: "t"), levelSwitch: levels)
        #expect(handler.logLevel == .info)
        levels.level = .debug
        #expect(handler.logLevel == .debug)
        handler.logLevel = .warning
        #expect(handler.logLevel == .warning)
        levels.level = .error
        #expect(handler.logLevel == .error)
    }
}
