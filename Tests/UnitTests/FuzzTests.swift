import FleetTestSupport
import Testing

@testable import FleetUnit


@Suite("Fuzz")
struct FuzzTests {
    /// Bytes that matter to the parsers, plus some that should not (controls, invalid UTF-8 lead bytes).
    static let interesting: [UInt8] = Array("[]=\\\n\r\t #;\"%@.*?^-/".utf8) + [0, 0x7F, 0xC3, 0xA9, 0xE2, 0x98, 0xBA, 0xFF]
    static let fragments = [
        "[Unit]\n", "[X-Fleet]\n", "[Service]", "[Install]\n", "Description=hi\n", "A=b", "=", "\\\n", "\\", "\n",
        "\r\n", "# c\n", ";x", "  ", "\t", "Global=true\n", "Conflicts=a* b?\n", "MachineOf=%n\n",
        "MachineMetadata=\"a=1\" \"b=2\"\n", "Replaces=[a-", "]", "[", "\u{FEFF}", "é", "e\u{301}", "\u{85}",
        "%i", "%p", String(repeating: "x", count: 700),
    ]

    static func randomBytes(_ generator: inout SeededGenerator) -> [UInt8] {
        let length = Int.random(in: 0...120, using: &generator)
        return (0..<length).map { _ in
            Bool.random(using: &generator)
                ? interesting.randomElement(using: &generator)!
                : UInt8.random(in: 0x20...0x7E, using: &generator)
        }
    }

    static func randomFragments(_ generator: inout SeededGenerator) -> String {
        let count = Int.random(in: 0...14, using: &generator)
        return (0..<count).map { _ in fragments.randomElement(using: &generator)! }.joined()
    }

    /// Parses `text`; when it parses, its normalized text must parse back to the same file and hash.
    static func checkRoundTrip(_ text: String) -> Bool {
        guard let file = try? UnitFile(parsing: text) else { return true }
        guard let again = try? UnitFile(parsing: file.normalizedText) else {
            Issue.record("normalized text of \(String(reflecting: text)) does not parse back")
            return false
        }
        guard again == file, again.hash == file.hash, again.normalizedText == file.normalizedText else {
            Issue.record("round trip of \(String(reflecting: text)) changed the file")
            return false
        }
        if (try? file.validate()) == nil {
            Issue.record("a parsed file failed validation: \(String(reflecting: text))")
            return false
        }
        let reqs = XFleetRequirements(unit: try! UnitName("web@1.service"), file: file)
        _ = try? reqs.validate()
        _ = reqs.metadataMatches(["a": "1"])
        return true
    }

    @Test func unitFileParsingSurvivesRandomBytes() {
        var generator = SeededGenerator(seed: 0x5EED_F1EE7)
        var parsed = 0
        for _ in 0..<3000 {
            let text = String(decoding: Self.randomBytes(&generator), as: UTF8.self)
            if (try? UnitFile(parsing: text)) != nil { parsed += 1 }
            if !Self.checkRoundTrip(text) { return }
        }
        #expect(parsed > 0)
    }

    @Test func unitFileParsingSurvivesRandomFragments() {
        var generator = SeededGenerator(seed: 42)
        var parsed = 0
        for _ in 0..<3000 {
            let text = Self.randomFragments(&generator)
            if (try? UnitFile(parsing: text)) != nil { parsed += 1 }
            if !Self.checkRoundTrip(text) { return }
        }
        // The fragments are built to parse often; if none do, the generator is not exercising anything.
        #expect(parsed > 300)
    }

    @Test func unitNameValidationSurvivesRandomInput() {
        var generator = SeededGenerator(seed: 7)
        let pieces = ["a", "Z", "0", "@", ".", "-", "_", ":", "\\", "service", "socket", "mount", "timer", " ", "$",
                      "é", "\u{301}", "\n", "/"]
        var accepted = 0
        for round in 0..<3000 {
            let text = round.isMultiple(of: 2)
                ? String(decoding: Self.randomBytes(&generator), as: UTF8.self)
                : (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }
                    .joined()
            guard let name = try? UnitName(text) else { continue }
            accepted += 1
            #expect(name.rawValue == text)
            #expect(name.rawValue.utf8.count <= UnitName.maximumLength)
            #expect(name.rawValue == name.stem + "." + name.suffix)
            if let instance = name.instance {
                #expect(name.rawValue == "\(name.prefix)@\(instance).\(name.suffix)")
                #expect(name.templateName?.isTemplate == true)
            } else {
                #expect(name.prefix == name.stem && name.templateName == nil)
            }
        }
        #expect(accepted > 0)
    }

    @Test func globMatchingSurvivesRandomPatterns() {
        var generator = SeededGenerator(seed: 99)
        for _ in 0..<3000 {
            let pattern = String(decoding: Self.randomBytes(&generator).prefix(12), as: UTF8.self)
            let name = String(decoding: Self.randomBytes(&generator).prefix(12), as: UTF8.self)
            let matched = XFleetRequirements.globMatches(pattern, name)
            // A pattern with no special characters is a literal: it matches exactly itself.
            if !pattern.contains(where: { "*?[\\".contains($0) }) {
                #expect(matched == (pattern.unicodeScalars.elementsEqual(name.unicodeScalars)))
                #expect(XFleetRequirements.globMatches(pattern, pattern))
            }
        }
    }
}
