import Testing

@testable import FleetUnit

@Suite("UnitFile(parsing:)")
struct UnitFileParsingTests {
    @Test func readsSectionsOptionsAndDropsComments() throws {
        let file = try UnitFile(parsing: """

            [Unit]
            ;ignore this guy
            Description = Foo

            [Service]
            ExecStart=echo "ping";
            ExecStop=echo "pong"
            # ignore me, too
            ExecStop=echo post

            [X-Fleet]
            MachineMetadata=foo=bar
            MachineMetadata=baz=qux

            """)
        #expect(file.options == [
            UnitOption(section: "Unit", name: "Description", value: "Foo"),
            UnitOption(section: "Service", name: "ExecStart", value: #"echo "ping";"#),
            UnitOption(section: "Service", name: "ExecStop", value: #"echo "pong""#),
            UnitOption(section: "Service", name: "ExecStop", value: "echo post"),
            UnitOption(section: "X-Fleet", name: "MachineMetadata", value: "foo=bar"),
            UnitOption(section: "X-Fleet", name: "MachineMetadata", value: "baz=qux"),
        ])
    }

    @Test func trimsNamesAndValuesAndAcceptsIndentationAndCRLF() throws {
        let file = try UnitFile(parsing: "  [Unit]  \r\n\t Description \t=  A  B \r\n\r\n   ; note\r\nAfter=x.service\r\n")
        #expect(file.options == [
            UnitOption(section: "Unit", name: "Description", value: "A  B"),
            UnitOption(section: "Unit", name: "After", value: "x.service"),
        ])
    }

    @Test func keepsEverythingAfterTheFirstEquals() throws {
        let file = try UnitFile(parsing: "[X-Fleet]\nMachineMetadata=a=b=c\nEmpty=\n=nameless\n")
        #expect(file.values(section: "X-Fleet", name: "MachineMetadata") == ["a=b=c"])
        #expect(file.values(section: "X-Fleet", name: "Empty") == [""])
        #expect(file.values(section: "X-Fleet", name: "") == ["nameless"])
    }

    @Test func keepsSectionNamesAsWritten() throws {
        let file = try UnitFile(parsing: "[ X Y ]\na=b\n[]\nc=d\n")
        #expect(file.sections == [" X Y ", ""])
    }

    @Test func joinsContinuationLinesLikeFleet() throws {
        // fleet's own expectations: the backslash becomes a space, the next line is appended verbatim,
        // and a comment-looking line inside a continuation is part of the value.
        let file = try UnitFile(parsing: """

            [Service]
            ExecStart=echo \\
              "pi\\
              ng"
            ExecStop=\\
            echo "po\\
            ng"
            # comments within continuation should not be ignored
            ExecStopPre=echo\\
            #pang
            ExecStopPost=echo\\
            #peng\\
            pung

            """)
        #expect(file.values(section: "Service", name: "ExecStart") == [#"echo    "pi   ng""#])
        #expect(file.values(section: "Service", name: "ExecStop") == [#"echo "po ng""#])
        #expect(file.values(section: "Service", name: "ExecStopPre") == ["echo #pang"])
        #expect(file.values(section: "Service", name: "ExecStopPost") == ["echo #peng pung"])
    }

    @Test func continuationEndsAtABlankLineOrTheEnd() throws {
        let blank = try UnitFile(parsing: "[S]\nA=one \\\n\nB=two\n")
        #expect(blank.options.map(\.value) == ["one", "two"])
        let end = try UnitFile(parsing: "[S]\nA=x\\")
        #expect(end.options.map(\.value) == ["x"])
        let trailingBlanks = try UnitFile(parsing: "[S]\nA=x\\  \ny\n")
        #expect(trailingBlanks.options.map(\.value) == ["x y"])
    }

    @Test func aCommentEndingInBackslashSwallowsTheNextLine() throws {
        let file = try UnitFile(parsing: "[S]\n# note \\\nA=1\nB=2\n")
        #expect(file.options.map(\.name) == ["B"])
    }

    @Test func ignoresALeadingByteOrderMark() throws {
        #expect(try UnitFile(parsing: "\u{FEFF}[Unit]\nA=b\n").options.count == 1)
    }

    @Test(arguments: ["", "\n\n", "# only a comment\n; and another", "[Unit]\n", "[Unit]\n[Service]\n"])
    func textWithoutOptionsIsEmpty(_ text: String) throws {
        let file = try UnitFile(parsing: text)
        #expect(file.options.isEmpty)
        #expect(file.normalizedText == "")
    }

    @Test func acceptsLinesJustUnderTheLimit() throws {
        let value = String(repeating: "v", count: UnitFile.maximumLineLength - 3)
        let file = try UnitFile(parsing: "[S]\nA=\(value)\n")
        #expect(file.values(section: "S", name: "A") == [value])
    }

    @Test func rejectsLinesOfLineMaxOrMore() {
        let value = String(repeating: "v", count: UnitFile.maximumLineLength - 2)
        let error = parseError("[S]\nA=x\nA=\(value)\n")
        #expect(error?.code == .lineTooLong)
        #expect(error?.line == 3)
        #expect(error?.description == "line 3: line too long (2049 bytes; max 2048 bytes including the newline)")
        // Comments are measured too: systemd reads them before it can ignore them.
        #expect(parseError("[S]\n#" + String(repeating: "c", count: 3000))?.code == .lineTooLong)
    }

    @Test func rejectsContinuationsThatJoinIntoAnOverlongLine() {
        let half = String(repeating: "h", count: 1500)
        let error = parseError("[S]\nA=\(half) \\\n\(half)\n")
        #expect(error?.code == .lineTooLong)
        #expect(error?.line == 2)
        #expect(error?.message.hasPrefix(#"option "A" is 3005 bytes once its continuation lines are joined"#) == true)
    }

    @Test func rejectsTextAfterASectionHeader() {
        let error = parseError("[Unit]\nA=b\n[Service] # main\n")
        #expect(error?.code == .textAfterSection)
        #expect(error?.line == 3)
        #expect(error?.description
            == ##"line 3: unexpected text after section header [Service]: "# main"; put comments on their own line"##)
    }

    @Test func rejectsAnUnterminatedSectionHeader() {
        let error = parseError("[Unit\nA=b\n")
        #expect(error?.code == .unterminatedSection)
        #expect(error?.description == #"line 1: section header has no closing "]": "[Unit""#)
    }

    @Test func rejectsAnOptionBeforeAnySection() {
        let error = parseError("# leading comment\nThis=Ignored\n[Unit]\n")
        #expect(error?.code == .optionBeforeSection)
        #expect(error?.description
            == #"line 2: option "This" appears before any section; add a header such as [Unit] above it"#)
    }

    @Test(arguments: [
        ("[Unit]\n\ngarbage", 3, #"line 3: expected "Name=Value" or "[Section]", got "garbage""#),
        ("garbage\n[Unit]\n", 1, #"line 1: expected "Name=Value" or "[Section]", got "garbage""#),
        ("[Unit]\n<<<<<<<<\n", 2, #"line 2: expected "Name=Value" or "[Section]", got "<<<<<<<<""#),
        ("[Unit]\nnonsense upon stilts\n", 2,
         #"line 2: expected "Name=Value" or "[Section]", got "nonsense upon stilts""#),
        ("[Unit]\n\tbad\u{1}\n", 2, #"line 2: expected "Name=Value" or "[Section]", got "bad\x01""#),
    ])
    func rejectsLinesWithoutEquals(_ text: String, _ line: Int, _ description: String) {
        let error = parseError(text)
        #expect(error?.code == .malformedLine)
        #expect(error?.line == line)
        #expect(error?.description == description)
    }

    @Test func shortensLongOffendingTextInMessages() {
        let error = parseError("[Unit]\n" + String(repeating: "g", count: 500))
        #expect(error?.message == #"expected "Name=Value" or "[Section]", got ""# + String(repeating: "g", count: 60)
            + #""..."#)
    }

    @Test func rejectsAValueThatWouldEndInABackslash() {
        // `x\\` continues (its last backslash), leaving `x\` once the blank line ends the value.
        let error = parseError("[S]\nA=x\\\\\n\nB=1\n")
        #expect(error?.code == .danglingBackslash)
        #expect(error?.line == 2)
    }

    @Test func errorsCompareByCodeLineAndMessage() {
        #expect(parseError("[S]\nx") == parseError("[S]\nx"))
        #expect(parseError("[S]\nx") != parseError("[S]\n\nx"))
        #expect(UnitFileError.Code.malformedLine.description == "malformedLine")
    }
}
