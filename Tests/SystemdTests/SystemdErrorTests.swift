import FleetSystemd
import Testing

@Suite struct SystemdErrorTests {
    @Test func descriptionNamesTheCallTheUnitAndTheBusError() {
        let error = SystemdError(
            code: .noSuchUnit, call: "StartUnit", unit: "web.service", errno: 2,
            busErrorName: SystemdError.noSuchUnitErrorName, message: "Unit web.service not found.")
        #expect(
            error.description
                == "StartUnit(web.service) failed: org.freedesktop.systemd1.NoSuchUnit: Unit web.service not found.")
        #expect(error.code == .noSuchUnit)
        #expect(error.code != .busError)
        #expect(error.location.hasPrefix("FleetSystemdTests/"))
    }

    @Test func descriptionOfASystemCallFailureNamesErrno() {
        let error = SystemdError(code: .systemCall, call: "rename", unit: "a.service", errno: 13, message: "/run/x")
        #expect(error.description == "rename(a.service) failed: /run/x: Permission denied (errno 13)")
    }

    @Test func descriptionWithoutDetailsNamesTheCode() {
        let error = SystemdError(code: .connectionClosed, call: "sd-bus connection")
        #expect(error.description == "sd-bus connection failed: connectionClosed")
    }
}
