import FleetDiscovery
@testable import FleetDNS
import Testing

@Suite struct ZoneBuildPacerTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func theFirstChangeIsBuiltAtOnce() {
        #expect(ZoneBuildPacer().buildTime(forChangeAt: at(0)) == at(0))
    }

    @Test func aLargeViewIsFollowedByAGapForEachRecordItEncoded() {
        var pacer = ZoneBuildPacer(threshold: 64, gapPerRecord: .microseconds(200), maxGap: .milliseconds(50))
        pacer.built(at: at(0), encodedRecords: 100)
        #expect(pacer.currentGap == .milliseconds(20))
        #expect(pacer.buildTime(forChangeAt: at(1)) == at(20), "a change within the gap waits for its end")
        #expect(pacer.buildTime(forChangeAt: at(25)) == at(25), "one after it is built at once")
    }

    @Test func noChangeWaitsLongerThanTheMaximum() {
        var pacer = ZoneBuildPacer(threshold: 64, gapPerRecord: .microseconds(200), maxGap: .milliseconds(50))
        pacer.built(at: at(0), encodedRecords: 10_000)
        #expect(pacer.currentGap == .milliseconds(50))
        #expect(pacer.buildTime(forChangeAt: at(1)) == at(50))
    }

    @Test func smallViewsAreNotSpaced() {
        var pacer = ZoneBuildPacer(threshold: 64, gapPerRecord: .microseconds(200), maxGap: .milliseconds(50))
        pacer.built(at: at(0), encodedRecords: 63)
        #expect(pacer.currentGap == .zero)
        #expect(pacer.buildTime(forChangeAt: at(0)) == at(0))
    }

    @Test func eachViewSetsTheNextGapFromItsOwnSize() {
        var pacer = ZoneBuildPacer(threshold: 64, gapPerRecord: .microseconds(200), maxGap: .milliseconds(50))
        pacer.built(at: at(0), encodedRecords: 150)
        #expect(pacer.buildTime(forChangeAt: at(2)) == at(30))
        pacer.built(at: at(30), encodedRecords: 5)  // the burst moved on to a small service
        #expect(pacer.buildTime(forChangeAt: at(31)) == at(31))
    }

    /// What the builder reports as a view's size: the records of the names it encoded afresh.
    @Test func theBuilderCountsTheRecordsOfTheNamesItEncoded() {
        var builder = ZoneBuilder(settings: ZoneSettings())
        _ = builder.view()
        for i in 1...100 {
            let record = Fixture.record("web", "\(i)", machine: "node\(i % 3)", address: "10.0.0.\(i % 3 + 1)")
            builder.upsert(record, key: Fixture.key(record))
        }
        _ = builder.view()
        let loaded = builder.lastEncodedRecords
        #expect(loaded > 200, "every instance's A and TXT on the service name, and its own name: \(loaded)")
        let next = Fixture.record("web", "101", machine: "node1", address: "10.0.0.2")
        builder.upsert(next, key: Fixture.key(next))
        _ = builder.view()
        #expect((101...130).contains(builder.lastEncodedRecords),
                "the service's name again (101 TXT, 3 A) and the new instance's: \(builder.lastEncodedRecords)")
        _ = builder.view()
        #expect(builder.lastEncodedRecords == 0, "nothing changed")
        let small = Fixture.record("db", "1", machine: "node1", address: "10.0.0.2")
        builder.upsert(small, key: Fixture.key(small))
        _ = builder.view()
        #expect(builder.lastEncodedRecords < 64, "a change to a small service is a small view: \(builder.lastEncodedRecords)")
    }
}
