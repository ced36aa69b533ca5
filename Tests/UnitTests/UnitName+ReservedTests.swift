import FleetUnit
import Testing

@Suite("UnitName.reservedReason")
struct UnitNameReservedTests {
    @Test(arguments: ["fleetd.service", "fleet.socket", "fleetd@1.service", "-.mount", "-.slice", "default.target",
                      "dbus.socket", "dbus.service", "dbus-broker.service", "systemd-journald.service", "user@0.service", "init.scope",
                      "network-online.target", "session-1.scope", "system.slice", "dev-sda.device", "swapfile.swap"])
    func namesOfTheMachineAreReserved(_ raw: String) throws {
        #expect(try UnitName(raw).reservedReason != nil)
    }

    @Test(arguments: ["web@1.service", "fleet-ui.service", "hello.service", "backup.timer", "data.mount", "app.target",
                      "busy.service", "dbusy.service"])
    func ordinaryNamesAreNot(_ raw: String) throws {
        #expect(try UnitName(raw).reservedReason == nil)
    }

    @Test func theMessageSaysWhy() throws {
        #expect(try UnitName("fleetd.service").reservedReason == "unit name \"fleetd.service\" is reserved for fleet itself")
        #expect(try UnitName("-.mount").reservedReason?.contains("belongs to the machine's own systemd") == true)
    }
}

@Suite("[X-Fleet] Isolation")
struct UnitIsolationTests {
    func requirements(_ xfleet: String) throws -> XFleetRequirements {
        try XFleetRequirements(unit: UnitName("a.service"), file: UnitFile(parsing: "[Service]\nExecStart=/bin/true\n[X-Fleet]\n" + xfleet))
    }

    @Test func readsStopAndKeepInAnyCase() throws {
        #expect(try requirements("Isolation=stop\n").isolationPolicy(default: .keep) == .stop)
        #expect(try requirements("Isolation=KEEP\n").isolationPolicy(default: .stop) == .keep)
        #expect(try requirements("Global=false\n").isolationPolicy(default: .stop) == .stop, "unset follows fleetd's default")
        #expect(try requirements("Isolation=stop\n").unknownKeys.isEmpty)
    }

    @Test func aBadValueIsRefusedWithTheValueInTheMessage() throws {
        let error = #expect(throws: XFleetError.self) { try requirements("Isolation=sometimes\n").validate() }
        #expect(error?.code == .invalidValue)
        #expect(error?.message == "Isolation=\"sometimes\" is not valid; expected \"keep\" or \"stop\"")
    }
}
