import FleetSystemd
import Glibc
import Testing

/// What the agent's anti-entropy and refusals need from real systemd: the marked files of
/// fleet's directory, and which names the host already has elsewhere.
@Suite(
    .serialized,
    .enabled(if: RealSystemd.isEnabled, "needs FLEET_TEST_SYSTEMD_USER=1 and a systemd --user (run on a rig host)"))
struct SystemdUnitManagerStockTests {
    @Test func markedFilesAreFoundAndOthersAreNot() async throws {
        try await RealSystemd.withManager { units, _ in
            let marked = TestUnits.uniqueName("marked"), plain = TestUnits.uniqueName("plain")
            _ = try await units.writeUnitFile(marked, contents: "# fleetd unit abc; test\n" + TestUnits.sleeping)
            _ = try await units.writeUnitFile(plain, contents: TestUnits.sleeping)
            let found = try await units.markedUnitFiles(marker: "# fleetd unit ")
            #expect(found[marked] == "# fleetd unit abc; test")
            #expect(found[plain] == nil)
            for name in [marked, plain] { try await RealSystemd.cleanUp(name, units) }
        }
    }

    @Test func hostUnitsAreTheOnesSystemdHasFromElsewhere() async throws {
        try await RealSystemd.withManager { units, _ in
            // A unit in the user's own config directory, outside the runtime directory fleet writes to.
            let base = getenv("XDG_CONFIG_HOME").map { String(cString: $0) }
                ?? getenv("HOME").map { String(cString: $0) + "/.config" } ?? "/tmp"
            for directory in [base, base + "/systemd", base + "/systemd/user"] { _ = mkdir(directory, 0o755) }
            let config = base + "/systemd/user"
            let host = TestUnits.uniqueName("host"), ours = TestUnits.uniqueName("ours"), unknown = TestUnits.uniqueName("nowhere")
            let path = config + "/" + host
            #expect(FILE.write(path, TestUnits.sleeping))
            defer { unlink(path) }
            try await units.reload()
            _ = try await units.writeUnitFile(ours, contents: TestUnits.sleeping)
            let found = try await units.hostUnits([host, ours, unknown])
            #expect(found == [host], "only the unit from outside fleet's directory is the host's")
            #expect(try await units.hostUnits([]).isEmpty)
            try await RealSystemd.cleanUp(ours, units)
        }
    }

    /// systemd keeps a unit whose file fleet removed until nothing refers to it; a failed unit
    /// stays until its failure is reset. That copy came from fleet's directory: not the host's.
    /// (Over the faster direct connection a replaced unit, removed and written again in one
    /// pass, was refused as the host's while its stop had not finished.)
    @Test func aUnitSystemdStillHoldsFromFleetsDirectoryIsNotTheHosts() async throws {
        try await RealSystemd.withManager { units, log in
            let name = TestUnits.uniqueName("removed-failed")
            _ = try await units.writeUnitFile(name, contents: TestUnits.failing)
            await units.watch(name)
            try await units.start(name)
            _ = try await log.next(name) { $0.activeState == .failed }
            #expect(try await units.removeUnitFile(name))
            #expect(try await units.state(of: name).activeState == .failed, "systemd still holds the failed unit")
            let found = try await units.hostUnits([name])
            let held = try await units.state(of: name)
            #expect(found.isEmpty, "systemd holds \(held)")
            try await units.resetFailed(name)
            try await units.reload()
        }
    }
}

/// Writing a small file without Foundation.
enum FILE {
    static func write(_ path: String, _ text: String) -> Bool {
        guard let file = fopen(path, "w") else { return false }
        defer { fclose(file) }
        return fputs(text, file) >= 0
    }
}
