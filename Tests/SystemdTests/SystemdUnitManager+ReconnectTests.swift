import FleetSystemd
import Foundation
import Glibc
import Testing

/// The connection to a real `systemd --user`: straight to the manager's own socket, and made
/// anew when systemd re-executes (which closes every direct connection).
///
/// The re-exec test disturbs every other connection to the manager, so it runs alone: only with
/// `FLEET_TEST_SYSTEMD_REEXEC=1` as well (`scripts/test` runs it in a second `swift test`).
@Suite(
    .serialized,
    .enabled(if: RealSystemd.isEnabled, "needs FLEET_TEST_SYSTEMD_USER=1 and a systemd --user (run on a rig host)"))
struct SystemdReconnectTests {
    static var reexecIsEnabled: Bool {
        getenv("FLEET_TEST_SYSTEMD_REEXEC").map { String(cString: $0) } == "1"
    }

    @Test func theUserManagerIsReachedOnItsOwnSocket() async throws {
        try await RealSystemd.withManager { units, _ in
            #expect(units.isDirect, "$XDG_RUNTIME_DIR/systemd/private is there on a rig machine")
        }
    }

    @Test(.enabled(if: reexecIsEnabled, "needs FLEET_TEST_SYSTEMD_REEXEC=1 (run alone: it re-executes the manager)"))
    func aReexecutedManagerIsReconnected() async throws {
        try await RealSystemd.withManager { units, log in
            let name = TestUnits.uniqueName("reexec")
            _ = try await units.writeUnitFile(name, contents: TestUnits.sleeping)
            await units.watch(name)
            try await units.start(name)
            _ = try await log.next(name) { $0.activeState == .active }

            try Self.systemctl("daemon-reexec")
            // A change made while or after the connection was down is reported: by the re-read
            // that follows reconnecting, or by a signal on the new connection.
            try Self.systemctl("stop", name)
            let stopped = try await log.next(name) { $0.activeState == .inactive }
            #expect(stopped.subState == "dead")

            // Calls work again once it is back (they fail while it is being made anew).
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                do {
                    try await units.start(name)
                    break
                } catch let error as SystemdError where error.code == .connectionClosed && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            _ = try await log.next(name) { $0.activeState == .active }
            #expect(!(await log.isFinished), "the state stream goes on across the re-exec")
            try await RealSystemd.cleanUp(name, units)
        }
    }

    /// Runs `systemctl --user ARGUMENTS` and fails the test if it does not succeed.
    static func systemctl(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemctl")
        process.arguments = ["--user"] + arguments
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "systemctl --user \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
}
