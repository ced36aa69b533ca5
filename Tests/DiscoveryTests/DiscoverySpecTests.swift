import FleetDiscovery
import FleetUnit
import Testing

/// `[X-Discovery]` numbers are bounded where they are read (issue 11): `CheckInterval=inf`
/// used to pass and trap the registrar's health check as soon as the unit became active.
@Suite struct DiscoverySpecTests {
    static func spec(_ lines: String) throws -> DiscoverySpec {
        DiscoverySpec(file: try UnitFile(parsing: "[Service]\nExecStart=/bin/true\n[X-Discovery]\n" + lines))
    }

    @Test(arguments: ["inf", "-inf", "nan", "1e300", "-1", "0", "abc", "0x1p99"])
    func anUnusableCheckIntervalIsRefusedAndClamped(value: String) throws {
        let spec = try Self.spec("Check=tcp\nPort=80\nCheckInterval=\(value)\n")
        #expect(spec.refusals.count == 1 && spec.refusals[0].hasPrefix("CheckInterval=\(value): "))
        #expect(DiscoverySpec.checkIntervalBounds.contains(spec.checkInterval))
        #expect(spec.checkPause >= .milliseconds(100) && spec.checkPause <= .seconds(3600))
    }

    @Test func everyNumberIsBounded() throws {
        let spec = try Self.spec("TTL=99999999999\nHealthyAfter=0\nUnhealthyAfter=99999999999999999999999\nPort=70000\n")
        #expect(spec.answerTTL == DiscoverySpec.answerTTLBounds.upperBound)
        #expect(spec.healthyAfter == 1)
        #expect(spec.unhealthyAfter == 2, "not a number Int holds: the default")
        #expect(spec.ports.isEmpty)
        #expect(spec.refusals.count == 4, "\(spec.refusals)")
        #expect(spec.refusals.allSatisfy { spec.problems.contains($0) }, "refusals are logged as problems too")
    }

    @Test func goodValuesPassUnchanged() throws {
        let spec = try Self.spec("TTL=30\nCheckInterval=0.5\nHealthyAfter=3\nUnhealthyAfter=4\nPort=8080 53/udp\n")
        #expect(spec.refusals.isEmpty && spec.problems.isEmpty)
        #expect(spec.answerTTL == 30 && spec.checkInterval == 0.5 && spec.healthyAfter == 3 && spec.unhealthyAfter == 4)
        #expect(spec.checkPause == .milliseconds(500))
        #expect(spec.ports.map(\.port) == [8080, 53])
    }

    @Test func aCheckIntervalSetInCodeStillGivesAPause() {
        var spec = DiscoverySpec(file: UnitFile(options: []))
        for value in [Double.nan, .infinity, -.infinity, 1e300, -5] {
            spec.checkInterval = value
            #expect(spec.checkPause >= .milliseconds(100) && spec.checkPause <= .seconds(3600))
        }
    }
}
