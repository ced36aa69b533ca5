@testable import FleetAgent
import FleetRegistry
import FleetSystemd
import FleetUnit
import Testing

/// The hold on the state of a unit loaded to be started (``LocalUnits/Local/publishHeld``): its
/// state is published once, when systemd reports it started, not as loaded first nor as
/// launched-but-inactive a moment before systemd says it is active.
@Suite struct LocalUnitsHoldTests {
    let unit = try! UnitName("web@1.service")
    let hash = try! UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n").hash
    let loaded = SystemdUnitState(loadState: "loaded", activeState: .inactive, subState: "dead")
    let active = SystemdUnitState(loadState: "loaded", activeState: .active, subState: "running")

    @Test func reportsBeforeTheStartAreNotPublishedThoseAfterItEndTheHold() async {
        let local = LocalUnits(machine: MachineID("m1"))
        await local.loaded(unit, hash: hash, startFollows: true)
        #expect(await local.systemdStateChanged(unit, loaded))
        #expect(await !local.publishesReport(unit), "systemd's first report, before the start: held")
        #expect(await !local.startSent(unit), "started, still inactive: held for systemd's report")
        #expect(await local.stateRecord(unit)?.jobState == .launched)
        #expect(await local.systemdStateChanged(unit, active))
        #expect(await local.publishesReport(unit), "systemd reports it active: published, the hold ends")
        #expect(await !local.endHold(unit), "nothing held any more")
        #expect(await local.publishesReport(unit))
    }

    @Test func aUnitReportedActiveBeforeItsStartReturnedIsPublishedAtOnce() async {
        let local = LocalUnits(machine: MachineID("m1"))
        await local.loaded(unit, hash: hash, startFollows: true)
        #expect(await local.systemdStateChanged(unit, active))
        #expect(await !local.publishesReport(unit), "reported while the start was on its way")
        #expect(await local.startSent(unit), "systemd already has it active: publish now")
    }

    @Test func aStartSystemdNeverReportsIsPublishedWhenTheWaitEnds() async {
        let local = LocalUnits(machine: MachineID("m1"))
        await local.loaded(unit, hash: hash, startFollows: true)
        #expect(await !local.startSent(unit))
        #expect(await local.endHold(unit), "the wait ended with the unit still held: publish it")
        #expect(await !local.endHold(unit))
    }

    @Test func aFailedStartEndsTheHoldAndAUnitLoadedOnlyIsNeverHeld() async {
        let local = LocalUnits(machine: MachineID("m1"))
        await local.loaded(unit, hash: hash, startFollows: true)
        await local.setJobState(unit, .loaded)
        #expect(await local.publishesReport(unit))
        let other = try! UnitName("other.service")
        await local.loaded(other, hash: hash)
        #expect(await local.publishesReport(other))
        #expect(await local.startSent(other), "not held: published at once")
    }
}
