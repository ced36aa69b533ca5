import FleetAPI
import FleetIdentity
import FleetRemoteStore
import FleetStoreHTTP
import Foundation
import HTTPTypes
import NIOCore
import Testing

/// What each role may do on a TLS listener (issue 13 items 2, 3 and 8, first cut).
@Suite struct RolePolicyTests {
    let policy = RolePolicy(prefix: "/fleet")
    let admin = PeerIdentity(role: .admin, machineID: nil)
    let m1 = PeerIdentity(role: .machine, machineID: "m1")
    let reader = PeerIdentity(role: .discoveryReader, machineID: nil)

    /// Whether `peer` may make the request; `path` may carry a query string after `?`.
    func allowed(_ peer: PeerIdentity, _ method: HTTPRequest.Method, _ path: String, forwarded: Bool = false,
                 leader: String? = nil) -> Bool {
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        return policy.denial(for: peer, method: method, path: parts[0], query: parts.count > 1 ? parts[1] : nil,
                             forwarded: forwarded, engineLeader: leader) == nil
    }

    @Test func anAdminMayDoAnything() {
        #expect(allowed(admin, .delete, "/v2/keys/fleet"))
        #expect(allowed(admin, .put, "/fleet/v1/units/a.service"))
        #expect(allowed(admin, .post, "/fleet/v1/batch/units"))
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

    @Test func theEngineLeaderSchedulesAndPlaces() {
        for path in ["/v2/keys/fleet/schedule/m2/a.service", "/v2/keys/fleet/schedule/m1/a.service",
                     "/v2/keys/fleet/job/a.service/target", "/v2/keys/fleet/job/a.service/unplaceable"] {
            #expect(allowed(m1, .put, path, leader: "m1"), "\(path)")
            #expect(allowed(m1, .delete, path, leader: "m1"), "\(path)")
        }
        #expect(allowed(m1, .delete, "/v2/keys/fleet/schedule/m2", leader: "m1"))
    }

    @Test func aMachineThatDoesNotLeadMayNotScheduleOrPlace() {
        for leader in ["m2", nil] as [String?] {
            for path in ["/v2/keys/fleet/schedule/m2/a.service", "/v2/keys/fleet/schedule/m1/a.service",
                         "/v2/keys/fleet/schedule", "/v2/keys/fleet/schedule/m2", "/v2/keys//fleet/./schedule/m1/x",
                         "/v2/keys/fleet%2Fschedule%2Fm1/a.service",
                         "/v2/keys/fleet/job/a.service/target", "/v2/keys/fleet/job/a.service/unplaceable",
                         "/v2/keys/fleet/job/a.service/target/x"] {
                for method: HTTPRequest.Method in [.put, .post, .delete] {
                    #expect(!allowed(m1, method, path, leader: leader), "\(method) \(path) while \(leader ?? "nobody") leads")
                }
            }
        }
        // What a machine writes for a local admin (its API socket over a remote store) stays open.
        #expect(allowed(m1, .put, "/v2/keys/fleet/job/a.service/object", leader: "m2"))
        #expect(allowed(m1, .put, "/v2/keys/fleet/job/a.service/target-state", leader: "m2"))
        #expect(allowed(m1, .delete, "/v2/keys/fleet/job/a.service", leader: "m2"))
        #expect(allowed(m1, .put, "/v2/keys/fleet/unit/0123", leader: "m2"))
    }

    @Test func theLeaseIsTakenWhenFreeAndKeptByItsHolder() {
        #expect(allowed(m1, .put, "/v2/keys/fleet/lease/engine-leader", leader: nil))
        #expect(allowed(m1, .put, "/v2/keys/fleet/lease/engine-leader", leader: "m1"))
        #expect(allowed(m1, .delete, "/v2/keys/fleet/lease/engine-leader", leader: "m1"))
        #expect(!allowed(m1, .put, "/v2/keys/fleet/lease/engine-leader", leader: "m2"))
        #expect(!allowed(m1, .delete, "/v2/keys/fleet/lease/engine-leader", leader: "m2"))
        #expect(!allowed(m1, .delete, "/v2/keys/fleet/lease", leader: "m2"))
        #expect(!allowed(m1, .post, "/v2/keys/fleet/lease/engine-leader", leader: "m2"))
    }

    /// How the engine of a machine that does not lead tries the lease: the store must refuse it
    /// (node exists, compare failed) as it always did, so the engine sees no 403.
    @Test func aWriteOfTheLeaseThatOnlySucceedsIfItIsOwnReachesTheStore() {
        let lease = "/v2/keys/fleet/lease/engine-leader"
        #expect(allowed(m1, .put, lease + "?prevExist=false", leader: "m2"))  // acquire
        #expect(allowed(m1, .put, lease + "?prevExist=0&ttl=5", leader: "m2"))
        #expect(allowed(m1, .put, lease + "?refresh=true&prevExist=true&prevValue=m1", leader: "m2"))  // renew
        #expect(allowed(m1, .delete, lease + "?guardKey=%2Ffleet%2Flease%2Fengine-leader&guardIndex=7&guardValue=m1",
                        leader: "m2"))  // release
        #expect(allowed(m1, .put, lease + "?prev%56alue=m1", leader: "m2"))  // spelled as the keys API reads it
        // Writes that would succeed against another machine's lease are refused.
        for query in ["prevExist=true", "prevValue=m2", "prevExist=false&prevExist=true" /* the first counts: allowed */,
                      "guardKey=/fleet/other&guardIndex=1&guardValue=m1", "guardKey=/fleet/lease/engine-leader&guardIndex=1",
                      "prevIndex=3", "prevValue=", ""] {
            let allowedHere = query.hasPrefix("prevExist=false")
            #expect(allowed(m1, .put, lease + "?" + query, leader: "m2") == allowedHere, "\(query)")
        }
        #expect(!allowed(m1, .delete, lease + "?prevExist=false", leader: "m2"))
        #expect(!allowed(m1, .post, lease + "?prevExist=false", leader: "m2"))
        #expect(!allowed(m1, .put, "/v2/keys/fleet/lease?prevExist=false", leader: "m2"))  // only the lease key itself
    }

    @Test func onlyAMachinesEngineWritesDependOnTheLease() {
        #expect(policy.dependsOnEngineLeader(m1, method: .put, path: "/v2/keys/fleet/schedule/m2/a.service"))
        #expect(policy.dependsOnEngineLeader(m1, method: .delete, path: "/v2/keys/fleet/lease/engine-leader"))
        #expect(!policy.dependsOnEngineLeader(m1, method: .get, path: "/v2/keys/fleet/schedule/m2/a.service"))
        #expect(!policy.dependsOnEngineLeader(m1, method: .put, path: "/v2/keys/fleet/states/a.service/m1"))
        #expect(!policy.dependsOnEngineLeader(admin, method: .put, path: "/v2/keys/fleet/schedule/m2/a.service"))
        #expect(!policy.dependsOnEngineLeader(reader, method: .put, path: "/v2/keys/fleet/schedule/m2/a.service"))
        #expect(!policy.dependsOnEngineLeader(m1, method: .put, path: "/fleet/v1/units/a.service"))
    }

    @Test func aMachineMayStillRegisterAndAnnounce() {
        #expect(allowed(m1, .put, "/v2/keys/fleet/machines/m2/metadata/disk"))  // PATCH /machines, passed through
        #expect(allowed(m1, .put, "/v2/keys/discovery/web/m1-web"))
        #expect(allowed(m1, .get, "/v2/keys/fleet/machines"))
        #expect(allowed(m1, .get, "/fleet/v1/units/a.service/status", forwarded: true))
        #expect(!allowed(m1, .put, "/fleet/v1/units/a.service"))
        #expect(!allowed(m1, .post, "/fleet/v1/batch/units"))  // unit writes, many at once: still a write
    }

    @Test func aMachineUnderAnotherPrefixIsCheckedThere() {
        let other = RolePolicy(prefix: "/team/fleet/")
        #expect(other.denial(for: m1, method: .put, path: "/v2/keys/team/fleet/machines/m2/object", query: nil, forwarded: false, engineLeader: nil) != nil)
        #expect(other.denial(for: m1, method: .put, path: "/v2/keys/fleet/machines/m2/object", query: nil, forwarded: false, engineLeader: nil) == nil)
        #expect(other.denial(for: m1, method: .put, path: "/v2/keys/team/fleet/schedule/m2/a.service", query: nil, forwarded: false, engineLeader: "m2") != nil)
        #expect(other.denial(for: m1, method: .put, path: "/v2/keys/fleet/schedule/m2/a.service", query: nil, forwarded: false, engineLeader: "m2") == nil)
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
        #expect(!allowed(reader, .post, "/fleet/v1/batch/units"))
        #expect(!allowed(reader, .get, "/metrics"))
    }

    @Test func onlyAMachineMayPassARequestOn() {
        #expect(!allowed(admin, .get, "/fleet/v1/units/a.service/journal", forwarded: true))
        #expect(!allowed(reader, .get, "/v2/keys/discovery", forwarded: true))
        #expect(allowed(m1, .get, "/fleet/v1/units/a.service/journal", forwarded: true))
    }

    /// A batch's writes, as `KeysBatchWrite.parse` reads a `POST /v2/batch` body.
    func batch(_ writes: [(method: String, key: String, query: String?)]) throws -> [KeysBatchWrite] {
        let items = writes.map { V2Batch.Write(method: $0.method, key: $0.key, query: $0.query, form: "value=v") }
        return try KeysBatchWrite.parse(ByteBuffer(data: try JSONEncoder().encode(V2Batch.Request(writes: items))))
    }

    /// Each write of a batch is judged as its own request: one refused refuses the batch.
    @Test func aBatchIsJudgedWriteByWrite() throws {
        let own = try batch([("PUT", "/fleet/states/a.service/m1", nil), ("PUT", "/discovery/web/a", nil),
                             ("DELETE", "/fleet/states/b.service/m1", nil)])
        #expect(policy.denial(for: m1, batch: own, engineLeader: nil) == nil)
        #expect(!policy.dependsOnEngineLeader(m1, batch: own))
        let others = try batch([("PUT", "/fleet/states/a.service/m1", nil), ("PUT", "/fleet/states/a.service/m2", nil)])
        #expect(policy.denial(for: m1, batch: others, engineLeader: nil)?.contains("write 2 of the batch") == true)
        #expect(policy.denial(for: admin, batch: others, engineLeader: nil) == nil)
        #expect(policy.denial(for: reader, batch: own, engineLeader: nil) != nil)
        // Placements depend on the lease, read once for the batch.
        let placements = try batch([("PUT", "/fleet/job/a.service/target", nil), ("PUT", "/fleet/states/a.service/m1", nil)])
        #expect(policy.dependsOnEngineLeader(m1, batch: placements))
        #expect(policy.denial(for: m1, batch: placements, engineLeader: "m1") == nil)
        #expect(policy.denial(for: m1, batch: placements, engineLeader: "m2") != nil)
        #expect(policy.denial(for: m1, batch: placements, engineLeader: nil) != nil)
        // A lease write conditioned to fail unless it is free or one's own passes; the
        // condition counts only in the query string, as on a lone request.
        let take = try batch([("PUT", "/fleet/lease/engine-leader", "prevExist=false")])
        #expect(policy.denial(for: m1, batch: take, engineLeader: "m2") == nil)
        let items = [V2Batch.Write(method: "PUT", key: "/fleet/lease/engine-leader", query: nil, form: "value=m1&prevExist=false")]
        let inForm = try KeysBatchWrite.parse(ByteBuffer(data: try JSONEncoder().encode(V2Batch.Request(writes: items))))
        #expect(policy.denial(for: m1, batch: inForm, engineLeader: "m2") != nil)
        // The batch route itself, judged by path alone, is closed to a machine: its writes must be read.
        #expect(!allowed(m1, .post, "/v2/batch"))
        #expect(!allowed(m1, .post, "/v2/batch/"))
        #expect(!allowed(reader, .post, "/v2/batch"))
    }
}
