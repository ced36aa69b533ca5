import Foundation
import Testing

@testable import FleetUnit

@Suite("UnitHash")
struct UnitHashTests {
    static let hex = "1c6fb6f3684bafb0c173d8b8b957ceff031180c1"

    @Test func roundTripsThroughHex() throws {
        let hash = try #require(UnitHash(hex: Self.hex))
        #expect(hash.hex == Self.hex)
        #expect(hash.description == Self.hex)
        #expect(hash.short == "1c6fb6f")
        #expect(hash.bytes.count == 20)
        #expect(UnitHash(hex: Self.hex.uppercased()) == hash)
        #expect(UnitHash(bytes: hash.bytes) == hash)
    }

    @Test(arguments: ["", "1c6fb6f", String(repeating: "0", count: 39), String(repeating: "0", count: 42),
                      String(repeating: "g", count: 40), "1c6fb6f3684bafb0c173d8b8b957ceff031180c ",
                      "é" + String(repeating: "0", count: 38)])
    func rejectsMalformedHex(_ text: String) {
        #expect(UnitHash(hex: text) == nil)
    }

    @Test func rejectsWrongByteCounts() {
        #expect(UnitHash(bytes: []) == nil)
        #expect(UnitHash(bytes: Array(repeating: 0, count: 21)) == nil)
    }

    @Test func hashesBytes() {
        #expect(UnitHash(hashing: "abc".utf8).hex == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }

    @Test func codesAsTheHexString() throws {
        let hash = try #require(UnitHash(hex: Self.hex))
        let data = try JSONEncoder().encode([hash])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(Self.hex)\"]")
        #expect(try JSONDecoder().decode([UnitHash].self, from: data) == [hash])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([UnitHash].self, from: Data(#"["nope"]"#.utf8))
        }
    }
}
