@testable import FleetDNS
import Testing

@Suite struct ZoneBuildPacerTests {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func theFirstChangeAndOneAfterQuietAreBuiltAtOnce() {
        var pacer = ZoneBuildPacer(minGap: .milliseconds(10), maxGap: .milliseconds(50))
        #expect(pacer.buildTime(forChangeAt: at(0)) == at(0))
        pacer.built(at: at(1))
        #expect(pacer.buildTime(forChangeAt: at(11)) == at(11), "a whole gap after the last build")
    }

    @Test func aBurstIsBuiltInDoublingStepsUpToTheMaximum() {
        var pacer = ZoneBuildPacer(minGap: .milliseconds(10), maxGap: .milliseconds(50))
        pacer.built(at: at(0))
        var builds: [ContinuousClock.Instant] = []
        var last = at(0)
        for _ in 0..<6 {
            let time = pacer.buildTime(forChangeAt: last + .milliseconds(1))
            builds.append(time)
            pacer.built(at: time)
            last = time
        }
        #expect(builds == [at(10), at(30), at(70), at(120), at(170), at(220)])
    }

    @Test func quietAsLongAsTheGapBringsItBackToTheMinimum() {
        var pacer = ZoneBuildPacer(minGap: .milliseconds(10), maxGap: .milliseconds(50))
        pacer.built(at: at(0))
        pacer.built(at: pacer.buildTime(forChangeAt: at(1)))   // at 10, the gap now 20
        pacer.built(at: pacer.buildTime(forChangeAt: at(11)))  // at 30, the gap now 40
        #expect(pacer.buildTime(forChangeAt: at(69)) == at(70), "still within the doubled gap")
        pacer.built(at: at(70))
        #expect(pacer.buildTime(forChangeAt: at(200)) == at(200))
        pacer.built(at: at(200))
        #expect(pacer.buildTime(forChangeAt: at(205)) == at(210), "back to the minimum gap")
    }
}
