@testable import FleetSystemd
import FleetJournal
import Glibc
import Testing

/// `systemctl status` text from known details (no systemd needed).
@Suite struct SystemdUnitStatusTextTests {
    static let now: UInt64 = 1_795_600_000_000_000

    func running() -> SystemdUnitDetails {
        var details = SystemdUnitDetails(
            name: "web@1.service", state: SystemdUnitState(loadState: "loaded", activeState: .active, subState: "running"))
        details.description = "Web 1"
        details.fragmentPath = "/run/systemd/system/web@1.service"
        details.unitFileState = "static"
        details.activeEnterTimestamp = Self.now - 185_000_000
        details.mainPID = 42
        details.tasksCurrent = 2
        details.tasksMax = 4915
        details.memoryCurrent = 593_920
        details.cpuUsageNanoseconds = 1_234_000_000
        details.controlGroup = "/system.slice/web@1.service"
        return details
    }

    @Test func anActiveServiceShowsEverySystemctlLine() {
        let text = running().statusText(now: Self.now, processes: [(42, "/usr/bin/web --port 80"), (43, "sleep 1")])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "● web@1.service - Web 1")
        #expect(lines[1] == "     Loaded: loaded (/run/systemd/system/web@1.service; static)")
        #expect(lines[2].hasPrefix("     Active: active (running) since "))
        #expect(lines[2].hasSuffix("; 3min 5s ago"))
        #expect(lines[3] == "   Main PID: 42 (web)")
        #expect(lines[4] == "      Tasks: 2 (limit: 4915)")
        #expect(lines[5] == "     Memory: 580.0K")
        #expect(lines[6] == "        CPU: 1.234s")
        #expect(lines[7] == "     CGroup: /system.slice/web@1.service")
        #expect(lines[8] == "             ├─42 /usr/bin/web --port 80")
        #expect(lines[9] == "             └─43 sleep 1")
        #expect(running().statusExitCode == 0)
    }

    @Test func aFailedServiceShowsTheResultAndHowItsProcessEnded() {
        var details = running()
        details.state = SystemdUnitState(loadState: "loaded", activeState: .failed, subState: "failed")
        details.result = "exit-code"
        details.mainPID = 0
        details.execMainPID = 42
        details.execMainCode = 1
        details.execMainStatus = 3
        details.inactiveEnterTimestamp = Self.now - 2_000_000
        details.controlGroup = ""
        let text = details.statusText(now: Self.now)
        #expect(text.hasPrefix("× web@1.service - Web 1"))
        #expect(text.contains("     Active: failed (Result: exit-code) since "))
        #expect(text.contains("; 2s ago"))
        #expect(text.contains("   Main PID: 42 (code=exited, status=3/FAILURE)"))
        #expect(!text.contains("CGroup"))
        #expect(details.statusExitCode == 3)
    }

    @Test func anUnknownUnitIsNotFoundWithSystemctlsExitStatus() {
        let details = SystemdUnitDetails(
            name: "nope.service", state: SystemdUnitState(loadState: "not-found", activeState: .inactive, subState: "dead"))
        #expect(details.statusText(now: Self.now) == """
            ○ nope.service
                 Loaded: not-found (Reason: Unit nope.service not found.)
                 Active: inactive (dead)
            """)
        #expect(details.statusExitCode == 4)
    }

    @Test func durationsAndSizesReadLikeSystemctl() {
        #expect(SystemdUnitDetails.duration(microseconds: 5_000) == "5ms")
        #expect(SystemdUnitDetails.duration(microseconds: 90_000_000) == "1min 30s")
        #expect(SystemdUnitDetails.duration(microseconds: 3_600_000_000 * 26, coarse: true) == "1 day 2h")
        #expect(SystemdUnitDetails.bytes(512) == "512B")
        #expect(SystemdUnitDetails.bytes(12 * 1024 * 1024 + 300 * 1024) == "12.3M")
    }
}

/// Journal lines in journalctl's output modes (no journal needed).
@Suite struct JournalEntryFormatTests {
    let entry = JournalEntry(
        fields: ["MESSAGE": "hello", "SYSLOG_IDENTIFIER": "sh", "_PID": "7", "_HOSTNAME": "m1", "_SYSTEMD_UNIT": "a.service"],
        realtime: 1_795_609_049_105_444, cursor: "s=1")

    @Test func shortModesCarryHostIdentifierAndPid() {
        setenv("TZ", "UTC", 1)
        tzset()
        #expect(entry.formatted(.short) == "Nov 25 12:17:29 m1 sh[7]: hello")
        #expect(entry.formatted(.shortISO) == "2026-11-25T12:17:29+0000 m1 sh[7]: hello")
        #expect(entry.formatted(.shortPrecise) == "Nov 25 12:17:29.105444 m1 sh[7]: hello")
        #expect(entry.formatted(.shortUnix) == "1795609049.105444 m1 sh[7]: hello")
        #expect(entry.formatted(.cat) == "hello")
    }

    @Test func jsonHasEveryFieldAndTheTimestamp() {
        let json = entry.formatted(.json)
        #expect(json.contains("\"MESSAGE\":\"hello\""))
        #expect(json.contains("\"__REALTIME_TIMESTAMP\":\"1795609049105444\""))
        #expect(json.contains("\"__CURSOR\":\"s=1\""))
    }

    @Test func anEntryWithoutIdentifierFallsBackToTheCommand() {
        let bare = JournalEntry(fields: ["MESSAGE": "x", "_COMM": "web"], realtime: 0)
        #expect(bare.formatted(.cat) == "x")
        #expect(bare.formatted(.short).hasSuffix(" web: x"))
    }
}
