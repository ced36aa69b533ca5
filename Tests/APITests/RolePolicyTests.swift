import FleetAPI
import FleetIdentity
import HTTPTypes
import Testing

/// What each role may do on a TLS listener (issue 13 items 2, 3 and 8, first cut).
@Suite struct RolePolicyTests {
    let policy = RolePolicy(prefix: "/fleet")
    let admin = PeerIdentity(role: .admin, machineID: nil)
    let m1 = PeerIdentity(role: .machine, machineID: "m1")
    let reader = PeerIdentity(role: .discoveryReader, machineID: nil)

    func allowed(_ peer: PeerIdentity, _ method: HTTPRequest.Method, _ path: String, forwarded: Bool = false) -> Bool {
        policy.denial(for: peer, method: method, path: path, forwarded: forwarded) == nil
    }

    @Test func anAdminMayDoAnything() {
        #expect(allowed(admin, .delete, "/v2/keys/fleet"))
        #expect(allowed(admin, .put, "/fleet/v1/units/a.service"))
        #expect(allowed(admin, .get, "/metrics"))
    }

    @Test func aMachineWritesOnlyItsOwnPresenceAndStates() {
        #expect(allowed(m1, .put, "/v2/keys/fleet/machines/m1/object"))
        #expect(allowed(m1, .put, "/v2/keys/fleet/states/a.service/m1"))
        #expect(allowed(m1, .delete, "/v2/keys/fleet/states/a.service/m1"))
        #expect(!allowed(m1, .put, "/v2/keys/fleet/machines/m2/object"))
        #expect(!allowed(m1, .delete, "/v2/keys/fleet/machines/m2"))
        #expect(!allowed(m1, .put, "/v2/keys/fleet/states/a.service/m2"))
        #expect(!allowed(m1, .delete, "/v2/keys/fleet/states/a.service"))
        // Directories above other machines' records, however the path is spelled.
        for path in ["/v2/keys/fleet", "/v2/keys/fleet/machines", "/v2/keys//fleet//states/", "/v2/keys/",
                     "/v2/keys/fleet/./machines", "/v2/keys/%66leet/machines/m2/object", "/v2/keys/fleet%2Fmachines%2Fm2/object"] {
            #expect(!allowed(m1, .delete, path), "\(path)")
        }
        #expect(!allowed(m1, .put, "/v2/keys/fleet/../fleet/machines/m2/object"))
    }

    @Test func aMachineMayStillScheduleLeadAndRegister() {
        #expect(allowed(m1, .put, "/v2/keys/fleet/schedule/m2/a.service"))  // the engine places units anywhere
        #expect(allowed(m1, .put, "/v2/keys/fleet/lease/engine-leader"))
        #expect(allowed(m1, .put, "/v2/keys/fleet/machines/m2/metadata/disk"))  // PATCH /machines, passed through
        #expect(allowed(m1, .put, "/v2/keys/discovery/web/m1-web"))
        #expect(allowed(m1, .get, "/v2/keys/fleet/machines"))
        #expect(allowed(m1, .get, "/fleet/v1/units/a.service/status", forwarded: true))
        #expect(!allowed(m1, .put, "/fleet/v1/units/a.service"))
    }

    @Test func aMachineUnderAnotherPrefixIsCheckedThere() {
        let other = RolePolicy(prefix: "/team/fleet/")
        #expect(other.denial(for: m1, method: .put, path: "/v2/keys/team/fleet/machines/m2/object", forwarded: false) != nil)
        #expect(other.denial(for: m1, method: .put, path: "/v2/keys/fleet/machines/m2/object", forwarded: false) == nil)
    }

    @Test func aDiscoveryReaderOnlyReadsDiscovery() {
        #expect(allowed(reader, .get, "/v2/keys/discovery"))
        #expect(allowed(reader, .get, "/v2/keys/discovery/web/a"))
        #expect(allowed(reader, .get, "/fleet/v1/discovery"))
        #expect(!allowed(reader, .put, "/v2/keys/discovery/web/a"))
        #expect(!allowed(reader, .get, "/v2/keys/"))
        #expect(!allowed(reader, .get, "/v2/keys/discoveryx"))
        #expect(!allowed(reader, .get, "/v2/keys/discovery/../fleet/unit"))
        #expect(!allowed(reader, .get, "/v2/keys/fleet/unit"))
        #expect(!allowed(reader, .get, "/fleet/v1/units"))
        #expect(!allowed(reader, .get, "/metrics"))
    }

    @Test func onlyAMachineMayPassARequestOn() {
        #expect(!allowed(admin, .get, "/fleet/v1/units/a.service/journal", forwarded: true))
        #expect(!allowed(reader, .get, "/v2/keys/discovery", forwarded: true))
        #expect(allowed(m1, .get, "/fleet/v1/units/a.service/journal", forwarded: true))
    }
}
