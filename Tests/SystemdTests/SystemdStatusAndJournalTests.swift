import FleetJournal
import FleetSystemd
import Foundation
import Testing

/// `fleetctl status` and `journal` ingredients against a real `systemd --user` and the rig
/// machine's own systemd-journald (run with FLEET_TEST_SYSTEMD_USER=1 on a rig machine).
@Suite(
    .serialized,
    .enabled(if: RealSystemd.isEnabled, "needs FLEET_TEST_SYSTEMD_USER=1, a systemd --user and journald (rig machine)"))
struct SystemdStatusAndJournalTests {
    @Test func detailsOfARunningServiceNameItsProcesses() async throws {
        try await RealSystemd.withManager { units, log in
            let name = TestUnits.uniqueName("details")
            _ = try await units.writeUnitFile(name, contents: TestUnits.sleeping)
            try await units.reload()
            await units.watch(name)
            try await units.start(name)
            _ = try await log.next(name) { $0.activeState == .active }

            let details = try await units.details(of: name)
            #expect(details.state == SystemdUnitState(loadState: "loaded", activeState: .active, subState: "running"))
            #expect(details.description == "fleet test unit")
            #expect(details.fragmentPath.hasSuffix("/" + name))
            #expect(details.mainPID != 0)
            #expect(details.activeEnterTimestamp > 0)
            #expect(details.controlGroup.hasSuffix("/" + name))
            let processes = ControlGroupProcesses.list(details.controlGroup)
            #expect(processes.contains { $0.pid == Int32(details.mainPID) && $0.command == "/bin/sleep 1000" },
                    "processes of \(details.controlGroup): \(processes)")
            let text = details.statusText(now: UInt64(Date().timeIntervalSince1970 * 1_000_000), processes: processes)
            #expect(text.contains("Main PID: \(details.mainPID) (sleep)"))
            #expect(details.statusExitCode == 0)
            try await RealSystemd.cleanUp(name, units)
        }
    }

    @Test func detailsOfAnUnknownUnitSayNotFound() async throws {
        try await RealSystemd.withManager { units, _ in
            let details = try await units.details(of: TestUnits.uniqueName("unknown"))
            #expect(details.state.loadState == "not-found")
            #expect(details.statusExitCode == 4)
        }
    }

    @Test func theJournalHasAUnitsLinesAndFollowsNewOnes() async throws {
        try await RealSystemd.withManager { units, _ in
            let name = TestUnits.uniqueName("journal")
            let marker = "marker-\(UInt32.random(in: .min ... .max))"
            // Follow first, so the unit's lines are awaited as events. The reader opens the journal
            // on its own thread, maybe after the unit wrote: ask for old lines too (the unit is new,
            // so any line of it is from this run).
            let follower = JournalReader.lines(JournalQuery(unit: name, lines: 50, follow: true, format: .cat))
            _ = try await units.writeUnitFile(name, contents: TestUnits.file(
                execStart: "/bin/sh -c 'echo first-\(marker); echo second-\(marker); exec sleep 1000'"))
            try await units.reload()
            try await units.start(name)
            let followed = try await Self.lines(follower, count: 2) { $0.hasSuffix(marker) }
            #expect(followed == ["first-\(marker)", "second-\(marker)"])

            // Now a plain read of the last lines, in short format, names the process. systemd's own
            // "Started" line may come after the unit's output in the journal, so read three.
            var last: [String] = []
            for try await line in JournalReader.lines(JournalQuery(unit: name, lines: 3, format: .short)) {
                last.append(line)
            }
            #expect(last.count == 3, "\(last)")
            #expect(last.contains { $0.hasSuffix(": second-\(marker)") && !$0.hasPrefix("second-") }, "\(last)")

            // Other units' lines never match.
            var other: [String] = []
            for try await line in JournalReader.lines(JournalQuery(unit: TestUnits.uniqueName("none"), lines: 50)) {
                other.append(line)
            }
            #expect(other.isEmpty)
            try await RealSystemd.cleanUp(name, units)
        }
    }

    /// The first `count` lines that pass `filter`, or a failure after 10 s.
    static func lines(_ stream: AsyncThrowingStream<String, any Error>, count: Int,
                      where filter: @escaping @Sendable (String) -> Bool) async throws -> [String] {
        try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask {
                var found: [String] = []
                for try await line in stream where filter(line) {
                    found.append(line)
                    if found.count == count { break }
                }
                return found
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return try #require(first, "fewer than \(count) journal lines within 10 s")
        }
    }
}
