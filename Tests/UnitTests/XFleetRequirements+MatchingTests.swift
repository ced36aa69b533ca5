import Testing

@testable import FleetUnit

@Suite("XFleetRequirements matching")
struct XFleetRequirementsMatchingTests {
    @Test(arguments: [
        ([String](), ["any": "thing"], true),
        ([], [:], true),
        (["region=us"], ["region": "us"], true),
        (["region=us"], ["region": "eu"], false),
        (["region=us"], ["region": "US"], false),
        (["region=us"], ["zone": "us"], false),
        (["region=us"], [:], false),
        (["region=us", "region=eu"], ["region": "eu"], true),
        (["region=us", "region=eu"], ["region": "ap"], false),
        (["region=us", "disk=ssd"], ["region": "us", "disk": "ssd", "extra": "x"], true),
        (["region=us", "disk=ssd"], ["region": "us", "disk": "hdd"], false),
        (["region=us", "disk=ssd"], ["region": "us"], false),
        (["region=us", "region=eu", "disk=ssd"], ["region": "eu", "disk": "ssd"], true),
    ])
    func matchesMetadataWithAndAcrossKeysOrWithin(
        _ pairs: [String], _ machine: [String: String], _ expected: Bool
    ) throws {
        let reqs = try requirements("a.service", "[X-Fleet]\n" + pairs.map { "MachineMetadata=\($0)" }.joined(separator: "\n"))
        #expect(reqs.metadataMatches(machine) == expected)
    }

    @Test func matchesTheFullOrShortMachineID() throws {
        let full = "8d4e1b2c9f0a4c3e8d7b6a5f4e3d2c1b"
        #expect(try requirements("a.service", xFleet("MachineID=\(full)")).machineIDMatches(full))
        #expect(try requirements("a.service", xFleet("MachineID=8d4e1b2c")).machineIDMatches(full))
        #expect(try !requirements("a.service", xFleet("MachineID=8d4e1b2")).machineIDMatches(full))
        #expect(try !requirements("a.service", xFleet("MachineID=ffff")).machineIDMatches(full))
        #expect(try requirements("a.service", "").machineIDMatches(full))
    }

    @Test func conflictsAreOneDirectionalAndNeverWithItself() throws {
        let web = try requirements("web@1.service", xFleet("Conflicts=web@*.service"))
        let db = try requirements("db.service", "")
        #expect(web.conflicts(with: try UnitName("web@2.service")))
        #expect(!web.conflicts(with: try UnitName("web@1.service")))
        #expect(!web.conflicts(with: try UnitName("db.service")))
        #expect(!db.conflicts(with: try UnitName("web@1.service")))
    }

    @Test func conflictsUseEveryGlob() throws {
        let reqs = try requirements("a.service", xFleet("Conflicts=b.service c?.service", "X-Conflicts=[xy].socket"))
        #expect(try reqs.conflicts(with: UnitName("b.service")))
        #expect(try reqs.conflicts(with: UnitName("c1.service")))
        #expect(try reqs.conflicts(with: UnitName("y.socket")))
        #expect(try !reqs.conflicts(with: UnitName("z.socket")))
    }

    @Test func replacesMatchesGlobsButNotItself() throws {
        let reqs = try requirements("new.service", xFleet("Replaces=*.service"))
        #expect(try reqs.replaces(UnitName("old.service")))
        #expect(try !reqs.replaces(UnitName("new.service")))
        #expect(try !reqs.replaces(UnitName("old.socket")))
    }
}
