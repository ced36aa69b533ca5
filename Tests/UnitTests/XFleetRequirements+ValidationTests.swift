import Testing

@testable import FleetUnit

@Suite("XFleetRequirements.validate")
struct XFleetRequirementsValidationTests {
    @Test(arguments: [
        (["MachineID=abc", "MachineOf=db.service"], "MachineID cannot be used with Peers"),
        (["X-ConditionMachineID=abc", "X-ConditionMachineOf=db.service"], "MachineID cannot be used with Peers"),
        (["MachineID=abc", "Conflicts=db*"], "MachineID cannot be used with Conflicts"),
        (["X-ConditionMachineBootID=abc", "X-Conflicts=db*"], "MachineID cannot be used with Conflicts"),
        (["MachineID=abc", "Global=true"], "MachineID cannot be used with Global"),
        (["MachineID=abc", "Replaces=old.service"], "MachineID cannot be used with Replaces"),
        (["Global=yes", "MachineOf=db.service"], "Global cannot be used with Peers"),
        (["Global=on", "Replaces=old.service"], "Global cannot be used with Replaces"),
        (["Conflicts=x*", "Replaces=old.service"], "Conflicts cannot be used with Replaces"),
        (["MachineID=", "MachineOf="], "MachineID cannot be used with Peers"),
    ])
    func rejectsIncompatibleOptions(_ lines: [String], _ message: String) throws {
        let reqs = try requirements("web.service", "[X-Fleet]\n" + lines.joined(separator: "\n"))
        #expect {
            try reqs.validate()
        } throws: { error in
            guard let error = error as? XFleetError else { return false }
            return error.code == .incompatibleOptions && error.message == message && "\(error)" == message
        }
    }

    @Test func rejectsAPeerMatchedByTheUnitsOwnConflicts() throws {
        let reqs = try requirements("web.service", xFleet("MachineOf=db.service", "Conflicts=db*"))
        #expect(throws: XFleetError.peerMatchesConflict(peer: "db.service", conflict: "db*")) {
            try reqs.validate()
        }
        #expect(XFleetError.peerMatchesConflict(peer: "db.service", conflict: "db*").message
            == #"unresolvable requirements: peer "db.service" matches conflict "db*""#)
    }

    @Test func rejectsAPeerMatchedByTheUnitsOwnReplaces() throws {
        let reqs = try requirements("web.service", xFleet("MachineOf=db@1.service", "Replaces=db@?.service"))
        #expect(throws: XFleetError.peerMatchesReplace(peer: "db@1.service", replace: "db@?.service")) {
            try reqs.validate()
        }
        #expect(XFleetError.peerMatchesReplace(peer: "db@1.service", replace: "db@?.service").message
            == #"unresolvable requirements: peer "db@1.service" matches replace "db@?.service""#)
    }

    @Test func peerConflictsAreReportedBeforeIncompatibleOptions() throws {
        let reqs = try requirements("web.service", xFleet("MachineID=abc", "MachineOf=db.service", "Conflicts=db.*"))
        #expect(throws: XFleetError.peerMatchesConflict(peer: "db.service", conflict: "db.*")) {
            try reqs.validate()
        }
    }

    @Test func peerConflictsAreCheckedBeforePeerReplaces() throws {
        let reqs = try requirements("web.service", xFleet("MachineOf=db.service", "Conflicts=d*", "Replaces=*"))
        #expect(throws: XFleetError.peerMatchesConflict(peer: "db.service", conflict: "d*")) {
            try reqs.validate()
        }
    }

    @Test(arguments: [
        [],
        ["Global=true", "Conflicts=other*", "MachineMetadata=role=web"],
        ["MachineID=abc", "MachineMetadata=role=web"],
        ["MachineOf=db.service", "Conflicts=web*", "MachineMetadata=a=b"],
        ["MachineOf=db.service", "Replaces=cache*"],
        ["Global=false", "MachineID=abc"],
        ["Global=true", "Unknown=thing"],
        ["Conflicts=", "MachineID=abc"],
    ])
    func acceptsCompatibleOptions(_ lines: [String]) throws {
        try requirements("web.service", "[X-Fleet]\n" + lines.joined(separator: "\n")).validate()
    }

    @Test func specifiersApplyBeforeValidation() throws {
        let reqs = try requirements("web@1.service", xFleet("MachineOf=%p-db.service", "Conflicts=%p-*"))
        #expect(throws: XFleetError.peerMatchesConflict(peer: "web-db.service", conflict: "web-*")) {
            try reqs.validate()
        }
    }
}
