import Testing
@testable import fleetctl

/// Waits poll closely only while they are short and for few units (issue 16: one unit active in
/// 1.2× bare systemctl instead of 1.6×, without more reads of the whole cluster for a bulk start),
/// and a wait for many units closer once a quarter or less of them are left.
@Suite struct StateWaiterPauseTests {
    @Test func aShortWaitForFewUnitsPollsClosely() {
        #expect(StateWaiter.pause(since: .now, units: 1, pending: 1) == .milliseconds(10))
        #expect(StateWaiter.pause(since: .now, units: 16, pending: 1) == .milliseconds(10))
    }

    @Test func aLongWaitOrOneForManyUnitsPollsEvery50ms() {
        #expect(StateWaiter.pause(since: .now - .milliseconds(400), units: 1, pending: 1) == .milliseconds(50))
        #expect(StateWaiter.pause(since: .now, units: 200, pending: 200) == .milliseconds(50))
        #expect(StateWaiter.pause(since: .now, units: 200, pending: 51) == .milliseconds(50))
    }

    @Test func theEndOfAWaitForManyUnitsPollsEvery20ms() {
        #expect(StateWaiter.pause(since: .now, units: 200, pending: 50) == .milliseconds(20))
        #expect(StateWaiter.pause(since: .now - .seconds(5), units: 200, pending: 1) == .milliseconds(20))
        #expect(StateWaiter.pause(since: .now, units: 17, pending: 4) == .milliseconds(20))
    }

    /// A wait whose last units never arrive goes back to 50 ms after ten seconds.
    @Test func aLongWaitForTheLastUnitsPollsEvery50ms() {
        #expect(StateWaiter.pause(since: .now - .seconds(11), units: 200, pending: 1) == .milliseconds(50))
    }
}
