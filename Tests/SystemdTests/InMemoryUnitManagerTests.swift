import FleetSystemd
import Testing

/// The fake emits synchronously inside each call, so after `await` the states are already
/// buffered in the stream: these tests read it directly, with no waiting.
@Suite struct InMemoryUnitManagerTests {
    typealias State = SystemdUnitState

    static let inactive = State(loadState: "loaded", activeState: .inactive, subState: "dead")
    static let activating = State(loadState: "loaded", activeState: .activating, subState: "start")
    static let running = State(loadState: "loaded", activeState: .active, subState: "running")
    static let deactivating = State(loadState: "loaded", activeState: .deactivating, subState: "stop-sigterm")
    static let failed = State(loadState: "loaded", activeState: .failed, subState: "failed")

    @Test func writeReportsWhetherTheContentChanged() async throws {
        let units = InMemoryUnitManager()
        #expect(try await units.writeUnitFile("a.service", contents: TestUnits.sleeping) == .created)
        #expect(try await units.writeUnitFile("a.service", contents: TestUnits.sleeping) == .unchanged)
        #expect(try await units.writeUnitFile("a.service", contents: TestUnits.failing) == .modified)
        #expect(await units.unitFiles == ["a.service": TestUnits.failing])
        #expect(try await units.removeUnitFile("a.service"))
        #expect(try await !units.removeUnitFile("a.service"))
    }

    @Test(arguments: ["", ".", "..", "a/b.service", "../x.service"])
    func rejectsNamesThatAreNotFileNames(_ name: String) async {
        let units = InMemoryUnitManager()
        let error = await #expect(throws: SystemdError.self) {
            try await units.writeUnitFile(name, contents: "")
        }
        #expect(error?.code == .invalidUnitName)
    }

    @Test func newFilesLoadOnDemandAndChangedOnesOnReload() async throws {
        let units = InMemoryUnitManager()
        #expect(try await units.state(of: "a.service").loadState == "not-found")
        let error = await #expect(throws: SystemdError.self) { try await units.start("a.service") }
        #expect(error?.code == .noSuchUnit)
        #expect(error?.unit == "a.service")
        #expect(error?.description.contains("a.service") == true)
        // As systemd: a name it has not loaded is looked up afresh, so a new file needs no reload.
        _ = try await units.writeUnitFile("a.service", contents: TestUnits.sleeping)
        #expect(try await units.state(of: "a.service") == Self.inactive)
        try await units.start("a.service")
        #expect(try await units.state(of: "a.service") == Self.running)
        // A changed file is only seen after a reload.
        try await units.stop("a.service")
        _ = try await units.writeUnitFile("a.service", contents: TestUnits.failing)
        try await units.start("a.service")
        #expect(try await units.state(of: "a.service") == Self.running)
        try await units.stop("a.service")
        try await units.reload()
        try await units.start("a.service")
        #expect(try await units.state(of: "a.service").activeState == .failed)
        #expect(await units.reloadCount == 1)
    }

    @Test func startAndStopReportEachTransition() async throws {
        let units = InMemoryUnitManager()
        var changes = units.stateChanges.makeAsyncIterator()
        _ = try await units.writeUnitFile("a.service", contents: TestUnits.sleeping)
        try await units.reload()
        await units.watch("a.service")
        #expect(await changes.next()?.state == Self.inactive)  // the initial state, on watch

        try await units.start("a.service")
        #expect(await changes.next()?.state == Self.activating)
        #expect(await changes.next()?.state == Self.running)
        #expect(try await units.state(of: "a.service") == Self.running)

        try await units.start("a.service")  // already running: no job, no change
        try await units.stop("a.service")
        #expect(await changes.next()?.state == Self.deactivating)
        let last = await changes.next()
        #expect(last?.unit == "a.service")
        #expect(last?.state == Self.inactive)
    }

    @Test func aUnitRunningBinFalseFails() async throws {
        let units = InMemoryUnitManager()
        var changes = units.stateChanges.makeAsyncIterator()
        _ = try await units.writeUnitFile("bad.service", contents: TestUnits.failing)
        try await units.reload()
        await units.watch("bad.service")
        #expect(await changes.next()?.state == Self.inactive)
        try await units.start("bad.service")
        #expect(await changes.next()?.state == Self.activating)
        #expect(await changes.next()?.state == Self.failed)

        try await units.stop("bad.service")  // a failed unit stays failed...
        #expect(try await units.state(of: "bad.service") == Self.failed)
        try await units.resetFailed("bad.service")  // ...until reset
        #expect(await changes.next()?.state == Self.inactive)
    }

    @Test func unknownUnitsAreNotAnErrorForStopAndResetFailed() async throws {
        let units = InMemoryUnitManager()
        try await units.stop("nothing.service")
        try await units.resetFailed("nothing.service")
        #expect(try await units.state(of: "nothing.service")
            == State(loadState: "not-found", activeState: .inactive, subState: "dead"))
    }

    @Test func removingTheFileAndReloadingMakesTheUnitNotFound() async throws {
        let units = InMemoryUnitManager()
        var changes = units.stateChanges.makeAsyncIterator()
        _ = try await units.writeUnitFile("a.service", contents: TestUnits.sleeping)
        try await units.reload()
        await units.watch("a.service")
        _ = await changes.next()
        _ = try await units.removeUnitFile("a.service")
        try await units.reload()
        #expect(await changes.next()?.state == State(loadState: "not-found", activeState: .inactive, subState: "dead"))
    }

    @Test func onlyWatchedUnitsAreReported() async throws {
        let units = InMemoryUnitManager()
        var changes = units.stateChanges.makeAsyncIterator()
        for name in ["a.service", "b.service"] {
            _ = try await units.writeUnitFile(name, contents: TestUnits.sleeping)
        }
        try await units.reload()
        await units.watch("a.service")
        _ = await changes.next()
        await units.unwatch("a.service")
        try await units.start("a.service")  // not watched any more: nothing emitted
        await units.watch("b.service")
        let next = await changes.next()
        #expect(next?.unit == "b.service")
        #expect(next?.state == Self.inactive)

        await units.watch("a.service")  // watching again reports the current state at once
        let again = await changes.next()
        #expect(again?.unit == "a.service")
        #expect(again?.state == Self.running)
    }

    @Test func setStateSimulatesACrash() async throws {
        let units = InMemoryUnitManager()
        var changes = units.stateChanges.makeAsyncIterator()
        _ = try await units.writeUnitFile("a.service", contents: TestUnits.sleeping)
        try await units.reload()
        try await units.start("a.service")
        await units.watch("a.service")
        #expect(await changes.next()?.state == Self.running)
        await units.setState("a.service", activeState: .failed, subState: "failed")
        await units.setState("a.service", activeState: .failed, subState: "failed")  // no change, no emission
        #expect(await changes.next()?.state == Self.failed)
        await units.unwatch("a.service")
        await units.watch("a.service")
        #expect(await changes.next()?.state == Self.failed)
    }

    @Test func anInjectedFailureFailsTheNextCallOnly() async throws {
        let units = InMemoryUnitManager()
        await units.failNextCall(with: SystemdError(code: .busError, call: "Reload", busErrorName: "test.Error"))
        let error = await #expect(throws: SystemdError.self) { try await units.reload() }
        #expect(error?.busErrorName == "test.Error")
        try await units.reload()
        #expect(await units.reloadCount == 1)
    }

    @Test func worksThroughTheProtocol() async throws {
        let units: any UnitManager = InMemoryUnitManager()
        let log = StateLog.recording(units.stateChanges)
        _ = try await units.writeUnitFile("a.service", contents: TestUnits.sleeping)
        try await units.reload()
        await units.watch("a.service")
        try await units.start("a.service")
        let state = try await log.next("a.service", within: .seconds(5)) { $0.activeState == .active }
        #expect(state == Self.running)
    }
}
