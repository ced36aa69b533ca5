import FleetAPIClient
import Testing
@testable import fleetctl

@Suite struct TableWriterTests {
    @Test func padsLikeGoTabwriterWithTabs() {
        let out = TableWriter.render([
            ["UNIT", "MACHINE", "ACTIVE", "SUB"],
            ["web@1.service", "0a1b2c3d.../10.0.0.1", "active", "running"],
        ])
        #expect(out == "UNIT\t\tMACHINE\t\t\tACTIVE\tSUB\nweb@1.service\t0a1b2c3d.../10.0.0.1\tactive\trunning\n")
    }

    @Test func aCellExactlyAtATabStopStillGetsOneTab() {
        // "1234567" + padding 1 = 8: the column is 8 wide and every cell ends with one tab.
        #expect(TableWriter.render([["1234567", "x"], ["a", "y"]]) == "1234567\tx\na\ty\n")
        // 8 characters + padding = 9, rounded up to 16.
        #expect(TableWriter.render([["12345678", "x"], ["a", "y"]]) == "12345678\tx\na\t\ty\n")
    }

    @Test func machineLegendShortensAndAddsTheAddress() {
        let legend = MachineLegend([MachineEntity(id: "0a1b2c3d4e5f", primaryIP: "10.0.0.1", metadata: nil)], full: false)
        #expect(legend("0a1b2c3d4e5f") == "0a1b2c3d.../10.0.0.1")
        #expect(legend("ffffffffffff") == "ffffffff...")
        #expect(legend(nil) == "-")
        let full = MachineLegend([], full: true)
        #expect(full("0a1b2c3d4e5f") == "0a1b2c3d4e5f")
    }
}
