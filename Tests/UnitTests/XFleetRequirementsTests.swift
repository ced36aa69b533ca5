import Testing

@testable import FleetUnit

@Suite("XFleetRequirements parsing")
struct XFleetRequirementsTests {
    @Test func noXFleetSectionMeansNoRequirements() throws {
        let reqs = try requirements("web.service", "[Service]\nExecStart=/bin/true\n[Unit]\nMachineID=abc\n")
        #expect(reqs == XFleetRequirements(unit: try UnitName("web.service")))
        #expect(reqs.machineID == nil)
        #expect(!reqs.isGlobal)
    }

    @Test func readsEveryOption() throws {
        let reqs = try requirements("web.service", xFleet(
            "MachineID=123abc", "MachineOf=db.service", "MachineMetadata=region=us-east",
            "Conflicts=web*.service", "Replaces=old.service"))
        #expect(reqs.machineID == "123abc")
        #expect(reqs.machineOf == ["db.service"])
        #expect(reqs.machineMetadata == ["region": ["us-east"]])
        #expect(reqs.conflicts == ["web*.service"])
        #expect(reqs.replaces == ["old.service"])
        #expect(reqs.unknownKeys.isEmpty)
    }

    @Test func repeatedKeysAccumulate() throws {
        let reqs = try requirements("web.service", xFleet(
            "MachineOf=a.service", "MachineOf=b.service", "Conflicts=x*", "Conflicts=y*",
            "MachineMetadata=region=us", "MachineMetadata=region=eu", "MachineMetadata=disk=ssd",
            "Replaces=p.service", "Replaces=q.service"))
        #expect(reqs.machineOf == ["a.service", "b.service"])
        #expect(reqs.conflicts == ["x*", "y*"])
        #expect(reqs.machineMetadata == ["region": ["us", "eu"], "disk": ["ssd"]])
        #expect(reqs.replaces == ["p.service", "q.service"])
    }

    @Test func onlyTheFirstMachineIDCounts() throws {
        #expect(try requirements("a.service", xFleet("MachineID=first", "MachineID=second")).machineID == "first")
        #expect(try requirements("a.service", xFleet(#"MachineID="one" "two""#)).machineID == "one")
    }

    @Test func machineIDFallsBackToTheDeprecatedSpellings() throws {
        #expect(try requirements("a.service", xFleet("X-ConditionMachineID=old")).machineID == "old")
        #expect(try requirements("a.service", xFleet("X-ConditionMachineBootID=boot")).machineID == "boot")
        #expect(try requirements("a.service", xFleet(
            "X-ConditionMachineBootID=boot", "X-ConditionMachineID=old", "MachineID=new")).machineID == "new")
        #expect(try requirements("a.service", xFleet(
            "X-ConditionMachineBootID=boot", "X-ConditionMachineID=old")).machineID == "old")
    }

    @Test func deprecatedAliasesMergeWithTheModernKeys() throws {
        let reqs = try requirements("a.service", xFleet(
            "MachineOf=new.service", "X-ConditionMachineOf=old.service",
            "MachineMetadata=role=web", "X-ConditionMachineMetadata=role=api",
            "Conflicts=new*", "X-Conflicts=old*"))
        // Deprecated values first, as fleet appends them first.
        #expect(reqs.machineOf == ["old.service", "new.service"])
        #expect(reqs.machineMetadata == ["role": ["web", "api"]])
        #expect(reqs.conflicts == ["old*", "new*"])
        #expect(reqs.unknownKeys.isEmpty)
    }

    @Test(arguments: ["true", "TRUE", "True", "yes", "YES", "1", "on", "On", "t", "T"])
    func globalAcceptsTruthySpellings(_ value: String) throws {
        #expect(try requirements("a.service", xFleet("Global=\(value)")).isGlobal)
    }

    @Test(arguments: ["false", "0", "no", "off", "f", "", "2", "tru", "enabled", #"" true""#])
    func globalIsFalseOtherwise(_ value: String) throws {
        #expect(try !requirements("a.service", xFleet("Global=\(value)")).isGlobal)
    }

    @Test func theLastGlobalWins() throws {
        #expect(try requirements("a.service", xFleet("Global=true", "Global=false")).isGlobal == false)
        #expect(try requirements("a.service", xFleet("Global=false", "Global=true")).isGlobal)
    }

    @Test func quotedValuesSplitIntoSeveral() throws {
        let reqs = try requirements("a.service", xFleet(
            #"MachineMetadata="region=us" "disk=ssd""#, #"MachineOf="x.service" "y.service""#))
        #expect(reqs.machineMetadata == ["region": ["us"], "disk": ["ssd"]])
        #expect(reqs.machineOf == ["x.service", "y.service"])
    }

    @Test func malformedMetadataIsSilentlyIgnored() throws {
        let reqs = try requirements("a.service", xFleet(
            "MachineMetadata=a=1 b=2", "MachineMetadata=a=b=c", "MachineMetadata=novalue",
            "MachineMetadata==x", "MachineMetadata=x=", "MachineMetadata=ok=yes"))
        #expect(reqs.machineMetadata == ["ok": ["yes"]])
    }

    @Test func unquotedConflictsSplitAtWhitespace() throws {
        let reqs = try requirements("a.service", xFleet("Conflicts=a*  b*\tc.service", "Conflicts=", "Conflicts=d*"))
        #expect(reqs.conflicts == ["a*", "b*", "c.service", "d*"])
    }

    @Test func quotedConflictsKeepInnerSpaces() throws {
        #expect(try requirements("a.service", xFleet(#"Conflicts="a b" "c""#)).conflicts == ["a b", "c"])
    }

    @Test func replacesIsNeverSplitAtWhitespace() throws {
        #expect(try requirements("a.service", xFleet("Replaces=a* b*")).replaces == ["a* b*"])
    }

    @Test(arguments: [
        ("web@1.service", "%n", "web@1.service"),
        ("web@1.service", "%N", "web@1"),
        ("web@1.service", "%p", "web"),
        ("web@1.service", "%i", "1"),
        ("web@.service", "%i", ""),
        ("db.service", "%i", ""),
        ("db.service", "%p", "db"),
        ("db.1.service", "%N", "db.1"),
        ("web@a.b.service", "x-%p-%i-%N-%n", "x-web-a.b-web@a.b-web@a.b.service"),
        ("web@1.service", "100% %x %%n", "100% %x %web@1.service"),
    ])
    func substitutesSpecifiersInEveryValue(_ unit: String, _ value: String, _ expected: String) throws {
        let reqs = try requirements(unit, xFleet(
            "MachineID=\(value)", "MachineOf=\(value)", "MachineMetadata=k=\(value)", "Conflicts=\"\(value)\"",
            "Replaces=\(value)", "Global=\(value)"))
        #expect(reqs.machineID == expected)
        #expect(reqs.machineOf == [expected])
        #expect(reqs.replaces == [expected])
        #expect(reqs.conflicts == [expected])
        if !expected.isEmpty { #expect(reqs.machineMetadata == ["k": [expected]]) }
    }

    @Test func specifiersMakeInstancesFollowTheirPeers() throws {
        let text = xFleet("MachineOf=db@%i.service", "Conflicts=%p@*.service")
        let one = try requirements("web@1.service", text)
        let two = try requirements("web@2.service", text)
        #expect(one.machineOf == ["db@1.service"])
        #expect(two.machineOf == ["db@2.service"])
        #expect(one.conflicts == ["web@*.service"])
    }

    @Test func recordsUnknownKeysWithFleetctlsWarning() throws {
        let reqs = try requirements("a.service", xFleet("Foo=bar", "Weight=2", "machineid=x", "Foo=again"))
        #expect(reqs.unknownKeys == ["Foo", "Weight", "machineid"])
        #expect(reqs.machineID == nil)
        #expect(reqs.warnings.first == #"unrecognized requirement in [X-Fleet] section: "Foo""#)
    }

    @Test(arguments: [
        (#""bar" "ping" "pong""#, ["bar", "ping", "pong"], true),
        (#""bar""#, ["bar"], true),
        ("", [""], false),
        (#""""#, [""], true),
        (#""bar"#, [#""bar"#], false),
        (#"bar""#, [#"bar""#], false),
        (#"foo\"bar"#, [#"foo\"bar"#], false),
        (#""bar" ""#, ["bar", ""], true),
        (#""foo\"bar""#, [#"foo\bar"#], true),
        (#"""#, [""], true),
        ("\"a\tb\" \"c\"", ["a\tb", "c"], true),
    ])
    func splitsQuotedListsLikeFleet(_ value: String, _ parts: [String], _ quoted: Bool) {
        let (split, wasQuoted) = XFleetValues.splitQuoted(value)
        #expect(split == parts)
        #expect(wasQuoted == quoted)
    }
}
