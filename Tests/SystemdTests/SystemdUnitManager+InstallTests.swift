import FleetSystemd
import Foundation
import Testing

/// `[Install]` sections enabled for this boot only, against a real `systemd --user` (see
/// ``RealSystemd``): fleet's sidekick pattern, where starting the app starts its sidekick
/// through the app's `Wants=` that the sidekick's `WantedBy=` made.
@Suite(
    .serialized,
    .enabled(if: RealSystemd.isEnabled, "needs FLEET_TEST_SYSTEMD_USER=1 and a systemd --user (run on a rig host)"))
struct SystemdUnitManagerInstallTests {
    @Test func anEnabledSidekickStartsWithItsAppAndStopsWithIt() async throws {
        try await RealSystemd.withManager { units, log in
            let app = TestUnits.uniqueName("app"), sidekick = TestUnits.uniqueName("sidekick")
            let sidekickFile = """
                [Unit]
                BindsTo=\(app)
                After=\(app)

                [Service]
                ExecStart=/bin/sleep 1000

                [Install]
                WantedBy=\(app)

                """
            _ = try await units.writeUnitFile(app, contents: TestUnits.sleeping)
            _ = try await units.writeUnitFile(sidekick, contents: sidekickFile)
            #expect(try await units.enableRuntime([sidekick]), "enabling creates the app's .wants link")
            #expect(try await units.enableRuntime([sidekick]) == false, "enabling again changes nothing")
            try await units.reload()
            await units.watch([app, sidekick])

            try await units.start(app)
            _ = try await log.next(sidekick) { $0.activeState == .active }
            try await units.stop(app)
            _ = try await log.next(sidekick) { $0.activeState == .inactive }

            await units.unwatch(sidekick)
            await units.unwatch(app)
            #expect(try await units.disableRuntime([sidekick]), "disabling removes the link")
            #expect(try await units.disableRuntime([sidekick]) == false)
            let link = units.unitDirectory + "/\(app).wants/\(sidekick)"
            #expect(!FileManager.default.fileExists(atPath: link))
            try await RealSystemd.cleanUp(sidekick, units)
            try await RealSystemd.cleanUp(app, units)
        }
    }
}
