@testable import FleetDNS
import Testing

@Suite struct DNSNameTests {
    @Test func presentationFormRoundTrips() throws {
        let name: DNSName = "web.fleet."
        #expect(name.labels.count == 2)
        #expect(name.description == "web.fleet.")
        #expect(DNSName("web.fleet") == name, "a missing trailing dot still means absolute")
        #expect(DNSName(".") == DNSName.root)
        #expect(DNSName.root.description == ".")
    }

    @Test func escapesReadAndWrite() throws {
        let text = #"a\.b.c\032d.fleet."#
        let name = try #require(DNSName(text))
        #expect(name.labels[0] == Array("a.b".utf8))
        #expect(name.labels[1] == Array("c d".utf8))
        #expect(name.description == #"a\.b.c\032d.fleet."#)
    }

    @Test(arguments: ["a..b", ".a", String(repeating: "x", count: 64) + ".fleet", #"a\"#, #"a\25"#, #"a\999"#])
    func invalidNamesAreRejected(_ text: String) {
        #expect(DNSName(text) == nil)
    }

    @Test func longNamesStopAt255Bytes() {
        let label = String(repeating: "x", count: 63)
        #expect(DNSName([label, label, label, String(repeating: "y", count: 61)].joined(separator: ".")) != nil)  // 255
        #expect(DNSName([label, label, label, String(repeating: "y", count: 62)].joined(separator: ".")) == nil)  // 256
    }

    @Test func comparisonIgnoresCaseButKeepsIt() throws {
        let upper: DNSName = "WeB.Fleet."
        #expect(upper == DNSName("web.fleet."))
        #expect(upper.hashValue == DNSName("web.fleet.").hashValue)
        #expect(upper.description == "WeB.Fleet.")
        #expect(upper.lowercased().description == "web.fleet.")
    }

    @Test func wireFormAndSubdomains() throws {
        let name: DNSName = "3.web.fleet."
        #expect(name.wire == [1, 0x33, 3, 0x77, 0x65, 0x62, 5, 0x66, 0x6C, 0x65, 0x65, 0x74, 0])
        #expect(name.wireLength == 13)
        #expect(name.isSubdomain(of: "fleet."))
        #expect(name.isSubdomain(of: "web.FLEET."))
        #expect(!name.isSubdomain(of: "eb.fleet."))
        #expect(name.parent == "web.fleet.")
        #expect(DNSName("fleet.").prepending(["3", "web"]) == name)
    }
}
