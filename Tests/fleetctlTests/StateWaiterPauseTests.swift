import Testing
@testable import fleetctl

/// Waits poll closely only while they are short and for few units (issue 16: one unit active in
/// 1.2× bare systemctl instead of 1.6×, without more reads of the whole cluster for a bulk start).
@Suite struct StateWaiterPauseTests {
    @Test func aShortWaitForFewUnitsPollsClosely() {
        #expect(StateWaiter.pause(since: .now, units: 1) == .milliseconds(10))
        #expect(StateWaiter.pause(since: .now, units: 16) == .milliseconds(10))
    }

    @Test func aLongWaitOrOneForManyUnitsPollsEvery50ms() {
        #expect(StateWaiter.pause(since: .now - .milliseconds(400), units: 1) == .milliseconds(50))
        #expect(StateWaiter.pause(since: .now, units: 200) == .milliseconds(50))
    }
}
