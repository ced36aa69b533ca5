import FleetSystemd
import Glibc
import Testing

/// Tests against a real `systemd --user`, e.g. on a rig host:
/// `RIG=sdt rig.sh exec 1 env FLEET_TEST_SYSTEMD_USER=1 swift test --skip-build ...`.
/// Skipped unless `FLEET_TEST_SYSTEMD_USER=1`; they use the user bus and `$XDG_RUNTIME_DIR/systemd/user`.
enum RealSystemd {
    static var isEnabled: Bool {
        getenv("FLEET_TEST_SYSTEMD_USER").map { String(cString: $0) } == "1"
    }

    /// A manager on the user bus plus a log of its stream; the manager is closed afterwards.
    static func withManager(
        _ body: (SystemdUnitManager, StateLog) async throws -> Void
    ) async throws {
        let directory = try #require(
            SystemdBusAddress.user.runtimeUnitDirectory, "XDG_RUNTIME_DIR must be set for the user manager")
        let units = try SystemdUnitManager(bus: .user, unitDirectory: directory)
        let log = StateLog.recording(units.stateChanges)
        do {
            try await body(units, log)
        } catch {
            await units.close()
            throw error
        }
        await units.close()
    }

    /// Stops and forgets a test unit: stop, reset-failed, remove its file, reload.
    static func cleanUp(_ name: String, _ units: SystemdUnitManager) async throws {
        await units.unwatch(name)
        try await units.stop(name)
        try await units.resetFailed(name)
        if try await units.removeUnitFile(name) { try await units.reload() }
    }
}

@Suite(
    .serialized,
    .enabled(if: RealSystemd.isEnabled, "needs FLEET_TEST_SYSTEMD_USER=1 and a systemd --user (run on a rig host)"))
struct SystemdUnitManagerTests {
    typealias State = SystemdUnitState
    static let running = State(loadState: "loaded", activeState: .active, subState: "running")

    @Test func startStopAndRemoveAUnit() async throws {
        try await RealSystemd.withManager { units, log in
            let name = TestUnits.uniqueName("sleep")
            #expect(try await units.writeUnitFile(name, contents: TestUnits.sleeping) == .created)
            #expect(try await units.writeUnitFile(name, contents: TestUnits.sleeping) == .unchanged)
            try await units.reload()

            await units.watch(name)
            let initial = try await log.next(name) { _ in true }
            #expect(initial == State(loadState: "loaded", activeState: .inactive, subState: "dead"))

            try await units.start(name)
            let started = try await log.next(name) { $0.activeState == .active }
            #expect(started.subState == "running")
            #expect(try await units.state(of: name) == Self.running)

            try await units.stop(name)
            let stopped = try await log.next(name) { $0.activeState == .inactive }
            #expect(stopped.subState == "dead")

            #expect(try await units.removeUnitFile(name))
            #expect(try await !units.removeUnitFile(name))
            try await units.reload()
            #expect(try await units.state(of: name).loadState == "not-found")
            // The reload re-reads watched units, so the stream says so too.
            _ = try await log.next(name) { $0.loadState == "not-found" }

            let states = await log.states(of: name)
            #expect(
                zip(states, states.dropFirst()).allSatisfy { $0 != $1 }, "emitted a state twice in a row: \(states)")
            try await RealSystemd.cleanUp(name, units)
        }
    }

    @Test func aUnitRunningBinFalseFails() async throws {
        try await RealSystemd.withManager { units, log in
            let name = TestUnits.uniqueName("false")
            _ = try await units.writeUnitFile(name, contents: TestUnits.failing)
            try await units.reload()
            await units.watch(name)
            try await units.start(name)
            let failed = try await log.next(name) { $0.activeState == .failed }
            #expect(failed == State(loadState: "loaded", activeState: .failed, subState: "failed"))
            #expect(try await units.state(of: name).activeState == .failed)

            try await units.resetFailed(name)
            _ = try await log.next(name) { $0.activeState == .inactive }
            try await units.resetFailed(name)  // not failed any more: still fine
            try await RealSystemd.cleanUp(name, units)
        }
    }

    @Test func unknownUnits() async throws {
        try await RealSystemd.withManager { units, _ in
            let name = TestUnits.uniqueName("missing")
            try await units.stop(name)
            try await units.resetFailed(name)
            let unknown = State(loadState: "not-found", activeState: .inactive, subState: "dead")
            #expect(try await units.state(of: name) == unknown)

            let error = await #expect(throws: SystemdError.self) { try await units.start(name) }
            #expect(error?.code == .noSuchUnit)
            #expect(error?.unit == name)
            #expect(error?.busErrorName == SystemdError.noSuchUnitErrorName)
            #expect(error?.description.contains("StartUnit(\(name))") == true)
        }
    }

    @Test func watchReportsTheStateOfAUnitThatIsAlreadyRunning() async throws {
        try await RealSystemd.withManager { first, firstLog in
            let name = TestUnits.uniqueName("running")
            _ = try await first.writeUnitFile(name, contents: TestUnits.sleeping)
            try await first.reload()
            await first.watch(name)
            try await first.start(name)
            _ = try await firstLog.next(name) { $0.activeState == .active }

            try await RealSystemd.withManager { second, secondLog in
                await second.watch(name)
                let initial = try await secondLog.next(name) { _ in true }
                #expect(initial == Self.running)
                await second.unwatch(name)
                try await second.stop(name)  // the first manager sees it
            }
            _ = try await firstLog.next(name) { $0.activeState == .inactive }
            #expect(await firstLog.states(of: name).last?.activeState == .inactive)
            try await RealSystemd.cleanUp(name, first)
        }
    }

    @Test func connectsToAnExplicitAddress() async throws {
        let address = try #require(
            getenv("DBUS_SESSION_BUS_ADDRESS").map { String(cString: $0) }, "the rig sets DBUS_SESSION_BUS_ADDRESS")
        let directory = try #require(SystemdBusAddress.user.runtimeUnitDirectory)
        let units = try SystemdUnitManager(bus: .address(address), unitDirectory: directory)
        #expect(!units.isDirect, "an explicit address is a bus client, signals matched by sender")
        let log = StateLog.recording(units.stateChanges)
        let name = TestUnits.uniqueName("address")
        _ = try await units.writeUnitFile(name, contents: TestUnits.sleeping)
        try await units.reload()
        await units.watch(name)
        try await units.start(name)
        _ = try await log.next(name) { $0.activeState == .active }
        try await RealSystemd.cleanUp(name, units)
        await units.close()
    }

    @Test func droppingTheManagerStopsItsThread() async throws {
        let directory = try #require(SystemdBusAddress.user.runtimeUnitDirectory)
        var units: SystemdUnitManager? = try SystemdUnitManager(bus: .user, unitDirectory: directory)
        let log = StateLog.recording(try #require(units).stateChanges)
        _ = try await units?.state(of: "fleet-nothing.service")
        units = nil  // deinit asks the thread to stop; it closes the bus and finishes the stream
        #expect(await log.waitUntilFinished())
    }

    @Test func closeFinishesTheStreamAndFailsLaterCalls() async throws {
        let directory = try #require(SystemdBusAddress.user.runtimeUnitDirectory)
        let units = try SystemdUnitManager(bus: .user, unitDirectory: directory)
        let log = StateLog.recording(units.stateChanges)
        _ = try await units.state(of: "fleet-nothing.service")  // the connection works
        await units.close()
        #expect(await log.waitUntilFinished())
        let error = await #expect(throws: SystemdError.self) { try await units.reload() }
        #expect(error?.code == .connectionClosed)
        await units.close()  // twice is fine
    }
}

/// Connection errors need no systemd, so these always run.
@Suite struct SystemdUnitManagerConnectionTests {
    @Test func runtimeUnitDirectories() {
        #expect(SystemdBusAddress.system.runtimeUnitDirectory == "/run/systemd/system")
        #expect(SystemdBusAddress.address("unix:path=/x").runtimeUnitDirectory == nil)
        if let runtime = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !runtime.isEmpty {
            #expect(SystemdBusAddress.user.runtimeUnitDirectory == runtime + "/systemd/user")
        }
    }

    @Test func aBusThatDoesNotExistIsReportedByInit() {
        let error = #expect(throws: SystemdError.self) {
            _ = try SystemdUnitManager(bus: .address("unix:path=/nonexistent/fleet/bus"), unitDirectory: "/tmp")
        }
        #expect(error?.code == .systemCall)
        #expect(error?.description.contains("sd_bus_start") == true)
        #expect(error?.description.contains("/nonexistent/fleet/bus") == true)
    }
}

/// What the agent relies on to skip daemon-reload: systemd finds a new unit file on its own.
@Suite(
    .serialized,
    .enabled(if: RealSystemd.isEnabled, "needs FLEET_TEST_SYSTEMD_USER=1 and a systemd --user (run on a rig host)"))
struct SystemdNewUnitFileTests {
    @Test func aNewUnitFileStartsWithoutAReload() async throws {
        try await RealSystemd.withManager { units, log in
            let names = [TestUnits.uniqueName("new-a"), TestUnits.uniqueName("new-b")]
            // Referenced once before its file exists (systemd then knows it as not-found).
            #expect(try await units.state(of: names[0]).loadState == "not-found")
            for name in names { #expect(try await units.writeUnitFile(name, contents: TestUnits.sleeping) == .created) }
            await units.watch(names)
            for name in names {
                let initial = try await log.next(name) { _ in true }
                #expect(initial.loadState == "loaded", "\(name) after watch: \(initial)")
                try await units.start(name)
                _ = try await log.next(name) { $0.activeState == .active }
            }
            for name in names { try await RealSystemd.cleanUp(name, units) }
        }
    }

    @Test func aBatchOfStartsIsPipelinedAndReportsEachFailure() async throws {
        try await RealSystemd.withManager { units, log in
            let names = (0..<20).map { TestUnits.uniqueName("batch-\($0)") }
            for name in names { _ = try await units.writeUnitFile(name, contents: TestUnits.sleeping) }
            let missing = TestUnits.uniqueName("no-file")
            await units.watch(names)
            let failures = try await units.start(names + [missing])
            #expect(Array(failures.keys) == [missing])
            #expect((failures[missing] as? SystemdError)?.code == .noSuchUnit)
            for name in names { _ = try await log.next(name) { $0.activeState == .active } }
            for name in names { try await RealSystemd.cleanUp(name, units) }
        }
    }

    @Test func batchesOfStopsAndResetsArePipelinedAndAnUnknownUnitIsNoFailure() async throws {
        try await RealSystemd.withManager { units, log in
            let names = (0..<20).map { TestUnits.uniqueName("stop-batch-\($0)") }
            for name in names { _ = try await units.writeUnitFile(name, contents: TestUnits.sleeping) }
            await units.watch(names)
            #expect(try await units.start(names).isEmpty)
            for name in names { _ = try await log.next(name) { $0.activeState == .active } }
            let unknown = TestUnits.uniqueName("never-loaded")
            #expect(try await units.stop(names + [unknown]).isEmpty, "an unknown unit is already stopped")
            for name in names { _ = try await log.next(name) { $0.activeState == .inactive } }
            #expect(try await units.resetFailed(names + [unknown]).isEmpty)
            for name in names { try await RealSystemd.cleanUp(name, units) }
        }
    }
}
