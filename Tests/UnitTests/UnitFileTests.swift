import Foundation
import Testing

@testable import FleetUnit

@Suite("UnitFile")
struct UnitFileTests {
    static let canonical = "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/echo hi\n"
    /// `printf '[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/echo hi\n' | sha1sum`
    static let canonicalHash = "6785632adb49a4c91d1ad443c2275d4b01af3407"

    @Test func normalizesToSectionsOptionsAndOneBlankLineBetween() throws {
        let file = try UnitFile(parsing: Self.canonical)
        #expect(file.normalizedText == Self.canonical)
        #expect(file.hash.hex == Self.canonicalHash)
    }

    @Test(arguments: [
        "# header\n[Unit]\n  Description =  Hello  \n; x\n\n\n[Service]\r\nExecStart= /bin/echo hi\r\n",
        "[Unit]\nDescription=Hello\n[Service]\nExecStart=/bin/echo hi",
        "\n\n[Unit]\n\n\nDescription=Hello\n\n\n\n[Service]\n\n#a\n;b\nExecStart=/bin/echo\\\nhi\n\n",
    ])
    func commentsAndWhitespaceDoNotChangeTheHash(_ text: String) throws {
        let file = try UnitFile(parsing: text)
        #expect(file.normalizedText == Self.canonical)
        #expect(file.hash.hex == Self.canonicalHash)
        #expect(file == (try UnitFile(parsing: Self.canonical)))
    }

    @Test func contentChangesChangeTheHash() throws {
        let changed = try UnitFile(parsing: Self.canonical.replacingOccurrences(of: "hi", with: "ho"))
        #expect(changed.hash.hex != Self.canonicalHash)
    }

    @Test func matchesFleetsHashForASleepUnit() throws {
        // fleet's unit test value; also `printf '[Service]\nExecStart=/bin/sleep 100\n' | sha1sum`.
        let hash = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 100\n").hash
        #expect(hash.hex == "1c6fb6f3684bafb0c173d8b8b957ceff031180c1")
        #expect(hash.short == "1c6fb6f")
    }

    @Test func emptyFileHashesToTheEmptySHA1() throws {
        #expect(try UnitFile(parsing: "").hash.hex == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(UnitFile(options: []).hash.description == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test func groupsRepeatedSectionsInFirstSeenOrder() throws {
        let file = try UnitFile(parsing: "[A]\nx=1\n[B]\ny=2\n[A]\nz=3\n")
        #expect(file.normalizedText == "[A]\nx=1\nz=3\n\n[B]\ny=2\n")
        #expect(file.sections == ["A", "B"])
        #expect(file == (try UnitFile(parsing: file.normalizedText)))
        let fromOptions = UnitFile(options: [
            UnitOption(section: "A", name: "x", value: "1"), UnitOption(section: "B", name: "y", value: "2"),
            UnitOption(section: "A", name: "z", value: "3"),
        ])
        #expect(fromOptions == file)
    }

    @Test func equalityIsByteExact() {
        let composed = UnitFile(options: [UnitOption(section: "Unit", name: "Description", value: "caf\u{E9}")])
        let decomposed = UnitFile(options: [UnitOption(section: "Unit", name: "Description", value: "cafe\u{301}")])
        #expect(composed != decomposed)
        #expect(composed.hash != decomposed.hash)
    }

    @Test func listsValuesInOrder() throws {
        let file = try UnitFile(parsing: "[Service]\nExecStartPre=a\nExecStart=b\nExecStartPre=c\n[Unit]\nExecStartPre=z\n")
        #expect(file.values(section: "Service", name: "ExecStartPre") == ["a", "c"])
        #expect(file.values(section: "Service", name: "Missing") == [])
    }

    @Test func describesWithTheLastUnitDescription() throws {
        #expect(try UnitFile(parsing: "[Unit]\nDescription=Foo\n").description == "Foo")
        #expect(try UnitFile(parsing: "[Unit]\nDescription=Foo\nDescription=Bar\n").description == "Bar")
        #expect(try UnitFile(parsing: "[Unit]\n[Service]\nDescription=Nope\n").description == nil)
    }

    @Test func detectsAnInstallSectionWithOptions() throws {
        #expect(try UnitFile(parsing: "[Service]\nA=b\n[Install]\nWantedBy=multi-user.target\n").hasInstallSection)
        #expect(try !UnitFile(parsing: "[Service]\nA=b\n").hasInstallSection)
        #expect(try !UnitFile(parsing: "[Service]\nA=b\n[Install]\n").hasInstallSection)
    }

    @Test func optionsCodeWithFleetsJSONKeys() throws {
        let option = UnitOption(section: "Service", name: "ExecStart", value: "/bin/true")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(option), as: UTF8.self)
        #expect(json == #"{"name":"ExecStart","section":"Service","value":"\/bin\/true"}"#)
        let decoded = try JSONDecoder().decode(
            UnitOption.self, from: Data(#"{"section":"Unit","name":"Description","value":"x"}"#.utf8))
        #expect(decoded == UnitOption(section: "Unit", name: "Description", value: "x"))
    }

    @Test func validatesOptionsThatRoundTrip() throws {
        try UnitFile(parsing: Self.canonical).validate()
        try UnitFile(options: []).validate()
    }

    @Test(arguments: [
        UnitOption(section: "Service", name: "ExecStart", value: "a\nInjected=yes"),
        UnitOption(section: "Service", name: "ExecStart", value: " padded"),
        UnitOption(section: "Service", name: "Exec=Start", value: "x"),
        UnitOption(section: "Service", name: "#commented", value: "x"),
        UnitOption(section: "Service", name: "ExecStart", value: "trailing\\"),
        UnitOption(section: "Bad]Section", name: "A", value: "x"),
    ])
    func rejectsOptionsThatWouldReadBackDifferently(_ option: UnitOption) {
        let file = UnitFile(options: [UnitOption(section: "Unit", name: "Description", value: "ok"), option])
        #expect(throws: UnitFileError.self) { try file.validate() }
    }

    @Test func validationNamesTheLineInNormalizedText() {
        let file = UnitFile(options: [
            UnitOption(section: "Unit", name: "Description", value: "ok"),
            UnitOption(section: "Service", name: "ExecStart", value: "a\nInjected=yes"),
        ])
        do throws(UnitFileError) {
            try file.validate()
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unrepresentable)
            #expect(error.line == 5)
        }
    }

    @Test func validationRejectsOverlongLines() {
        let file = UnitFile(options: [UnitOption(section: "S", name: "A", value: String(repeating: "x", count: 3000))])
        #expect { try file.validate() } throws: { ($0 as? UnitFileError)?.code == .lineTooLong }
    }
}
