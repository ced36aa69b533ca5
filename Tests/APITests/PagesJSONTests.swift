import FleetAPIClient
import FleetUnit
import Foundation
import Testing
@testable import FleetAPI

/// The hand-written `GET /units` and `GET /state` bodies (``JSONText``) say what `JSONEncoder`
/// said: the same bytes for the API's usual output, the same values for any string.
@Suite struct PagesJSONTests {
    func encoded(_ page: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(page))
    }

    @Test func aPageIsWrittenAsJSONEncoderWritesIt() throws {
        let units = [
            UnitEntity(name: "web@1.service", options: [UnitOption(section: "Service", name: "ExecStart", value: "/bin/sleep infinity"),
                                                        UnitOption(section: "X-Fleet", name: "Conflicts", value: "web@*.service")],
                       desiredState: "launched", currentState: "launched", machineID: "0123456789abcdef0123456789abcdef"),
            UnitEntity(name: "global.service", options: [], desiredState: "launched"),
            UnitEntity(name: "db.service", options: nil, desiredState: "loaded", currentState: "inactive",
                       unplaceableReason: "no machine has metadata role=db"),
        ]
        for page in [UnitPage(units: units, nextPageToken: nil), UnitPage(units: units, nextPageToken: "ZAACAA=="),
                     UnitPage(units: [], nextPageToken: nil)] {
            #expect(page.jsonBytes == (try encoded(page)), "\(String(decoding: page.jsonBytes, as: UTF8.self))")
        }
    }

    @Test func hostileStringsSurviveTheRoundTrip() throws {
        var control = ""
        for scalar in 0..<0x20 { control.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        let strings = ["quote \" and backslash \\ and slash /", control, "\u{7F}\u{80}é\u{2028}\u{2029}😀",
                       "\\u0000 written out", "\"}],{\"name\":\"injected", ""]
        let units = strings.map { text in
            UnitEntity(name: text, options: [UnitOption(section: text, name: text, value: text)],
                       desiredState: text, currentState: text, machineID: text, unplaceableReason: text)
        }
        let page = UnitPage(units: units, nextPageToken: strings[4])
        let decoded = try JSONDecoder().decode(UnitPage.self, from: Data(page.jsonBytes))
        #expect(decoded.units == units)
        #expect(decoded.nextPageToken == strings[4])
        // JSON's own parser agrees it is one valid document.
        #expect(try JSONSerialization.jsonObject(with: Data(page.jsonBytes)) is [String: Any])
    }

    @Test func aStatePageIsWrittenAsJSONEncoderWritesIt() throws {
        let states = [
            UnitStateEntity(name: "web@1.service", hash: "0123abcd", machineID: "0123456789abcdef0123456789abcdef",
                            systemdLoadState: "loaded", systemdActiveState: "active", systemdSubState: "running"),
            UnitStateEntity(name: "odd \"name\"\n", hash: nil, machineID: nil, systemdLoadState: nil,
                            systemdActiveState: "failed", systemdSubState: nil),
        ]
        for page in [UnitStatePage(states: states, nextPageToken: nil), UnitStatePage(states: states, nextPageToken: "ZAACAA=="),
                     UnitStatePage(states: [], nextPageToken: nil)] {
            #expect(page.jsonBytes == (try encoded(page)), "\(String(decoding: page.jsonBytes, as: UTF8.self))")
            let decoded = try JSONDecoder().decode(UnitStatePage.self, from: Data(page.jsonBytes))
            #expect(decoded.states == page.states)
        }
    }
}
