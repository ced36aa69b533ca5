import Foundation
import Testing

@testable import FleetUnit

@Suite("UnitName")
struct UnitNameTests {
    @Test(arguments: [
        "foo.service", "foo@.service", "foo@bar.service", "foo@bar@baz.service", "foo.1@2.service", "ssh@1.socket",
        "a:b_c-d\\e.mount", "x.target", "web.1.service", "dev-sda.device", "a.automount", "a.busname", "a.path",
        "a.scope", "a.slice", "a.snapshot", "a.swap", "a.timer", "t@.timer", "p@x.path",
    ])
    func acceptsValidNames(_ raw: String) throws {
        let name = try UnitName(raw)
        #expect(name.rawValue == raw)
        #expect(name.description == raw)
    }

    @Test func acceptsExactlyTheMaximumLength() throws {
        let raw = String(repeating: "a", count: UnitName.maximumLength - ".service".count) + ".service"
        #expect(try UnitName(raw).rawValue.utf8.count == 256)
    }

    @Test(arguments: [
        ("", "unit name cannot be empty"),
        (String(repeating: "a", count: 249) + ".service", "unit name exceeds maximum length (256)"),
        ("foo", #"unit name must contain ".""#),
        ("foo.", #"unit name cannot end in ".""#),
        ("foo.bar", #"invalid unit type: "bar""#),
        ("foo.Service", #"invalid unit type: "Service""#),
        ("foo.serv\"ice", #"invalid unit type: "serv\"ice""#),
        ("foo.serv\tice", #"invalid unit type: "serv\tice""#),
        ("foo@bar.mount", #"invalid unit type for template: "mount""#),
        ("foo@.device", #"invalid unit type for template: "device""#),
        ("foo$.service", "invalid character '$' in unit name"),
        ("foo bar.service", "invalid character ' ' in unit name"),
        ("fo/o.service", "invalid character '/' in unit name"),
        ("fo'o.service", #"invalid character '\'' in unit name"#),
        ("fo\"o.service", "invalid character '\"' in unit name"),
        ("fo\no.service", #"invalid character '\n' in unit name"#),
        ("fo\u{0}o.service", #"invalid character '\x00' in unit name"#),
        ("fo\u{7F}o.service", #"invalid character '\x7f' in unit name"#),
        ("fé.service", "invalid character 'é' in unit name"),
        ("f\u{A0}.service", #"invalid character '\u00a0' in unit name"#),
        ("f\u{E0000}.service", #"invalid character '\U000e0000' in unit name"#),
        ("@foo.service", #"unit name cannot start in "@""#),
        ("@.service", #"unit name cannot start in "@""#),
    ])
    func rejectsInvalidNamesWithFleetsText(_ raw: String, _ message: String) {
        #expect {
            _ = try UnitName(raw)
        } throws: { error in
            (error as? UnitNameError)?.message == message && "\(error)" == message
        }
    }

    @Test(arguments: [
        ("", UnitNameError.Code.empty), ("a.b", .invalidType), ("@a.bar", .invalidType),
        ("@a$.service", .invalidCharacter), ("a b@.mount", .invalidTemplateType), ("a.service.", .endsInDot),
    ])
    func reportsTheFirstRuleBrokenInFleetsOrder(_ raw: String, _ code: UnitNameError.Code) {
        #expect(throws: UnitNameError.self) { try UnitName(raw) }
        do throws(UnitNameError) {
            _ = try UnitName(raw)
        } catch {
            #expect(error.code == code)
        }
    }

    @Test func errorsCompareByCodeAndMessage() {
        #expect(UnitNameError.invalidType("bar") == UnitNameError.invalidType("bar"))
        #expect(UnitNameError.invalidType("bar") != UnitNameError.invalidType("baz"))
        #expect(UnitNameError.empty.location.contains("UnitNameError.swift"))
        #expect(UnitNameError.empty.code.description == "empty")
    }

    struct Parts: Sendable, CustomTestStringConvertible {
        let raw, stem, prefix, suffix: String
        let instance, template: String?
        let isInstance, isTemplate: Bool
        var testDescription: String { raw }
    }

    @Test(arguments: [
        Parts(raw: "foo.service", stem: "foo", prefix: "foo", suffix: "service", instance: nil, template: nil,
              isInstance: false, isTemplate: false),
        Parts(raw: "foo@.service", stem: "foo@", prefix: "foo", suffix: "service", instance: "",
              template: "foo@.service", isInstance: false, isTemplate: true),
        Parts(raw: "foo@bar.service", stem: "foo@bar", prefix: "foo", suffix: "service", instance: "bar",
              template: "foo@.service", isInstance: true, isTemplate: false),
        Parts(raw: "foo@bar@baz.service", stem: "foo@bar@baz", prefix: "foo", suffix: "service",
              instance: "bar@baz", template: "foo@.service", isInstance: true, isTemplate: false),
        Parts(raw: "foo.1@.service", stem: "foo.1@", prefix: "foo.1", suffix: "service", instance: "",
              template: "foo.1@.service", isInstance: false, isTemplate: true),
        Parts(raw: "foo.1@2.service", stem: "foo.1@2", prefix: "foo.1", suffix: "service", instance: "2",
              template: "foo.1@.service", isInstance: true, isTemplate: false),
        Parts(raw: "ssh@1.socket", stem: "ssh@1", prefix: "ssh", suffix: "socket", instance: "1",
              template: "ssh@.socket", isInstance: true, isTemplate: false),
        Parts(raw: "a.b.c.mount", stem: "a.b.c", prefix: "a.b.c", suffix: "mount", instance: nil, template: nil,
              isInstance: false, isTemplate: false),
    ])
    func splitsNamesLikeFleet(_ parts: Parts) throws {
        let name = try UnitName(parts.raw)
        #expect(name.stem == parts.stem)
        #expect(name.prefix == parts.prefix)
        #expect(name.suffix == parts.suffix)
        #expect(name.instance == parts.instance)
        #expect(name.templateName?.rawValue == parts.template)
        #expect(name.isInstance == parts.isInstance)
        #expect(name.isTemplate == parts.isTemplate)
    }

    @Test func instantiatesTemplatesOnly() throws {
        let template = try UnitName("web@.service")
        #expect(template.instantiated("1")?.rawValue == "web@1.service")
        #expect(template.instantiated("a.b")?.rawValue == "web@a.b.service")
        #expect(template.instantiated("")?.rawValue == nil)
        #expect(template.instantiated("bad char") == nil)
        #expect(try UnitName("web@1.service").instantiated("2") == nil)
        #expect(try UnitName("web.service").instantiated("2") == nil)
        let socket = try UnitName("ssh@.socket")
        #expect(socket.instantiated("22")?.templateName == socket)
    }

    @Test func sortsByRawValue() throws {
        let names = try ["b.service", "a@2.service", "a@10.service", "a.service"].map(UnitName.init)
        #expect(names.sorted().map(\.rawValue) == ["a.service", "a@10.service", "a@2.service", "b.service"])
    }

    @Test func codesAsAPlainString() throws {
        let name = try UnitName("web@1.service")
        let data = try JSONEncoder().encode([name])
        #expect(String(decoding: data, as: UTF8.self) == #"["web@1.service"]"#)
        #expect(try JSONDecoder().decode([UnitName].self, from: data) == [name])
    }

    @Test func decodingRejectsInvalidNamesWithFleetsText() {
        #expect {
            _ = try JSONDecoder().decode([UnitName].self, from: Data(#"["foo.bar"]"#.utf8))
        } throws: { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return false }
            return context.debugDescription == #"invalid unit type: "bar""#
        }
    }
}
