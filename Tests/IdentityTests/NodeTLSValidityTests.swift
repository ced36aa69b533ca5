import Foundation
import Testing
import X509

@testable import FleetIdentity

/// A fleetd's own certificate must be valid when it starts (issue 13: expired and not yet valid
/// certificates are refused); every peer would refuse it in the handshake anyway.
@Suite("NodeTLS validity")
struct NodeTLSValidityTests {
    static let day: TimeInterval = 86400

    /// Machine `m1`'s TLS material under a new CA, its certificate issued at `issued` for a day.
    func node(issued: Date) throws -> (ClusterCA, NodeTLS) {
        let ca = try ClusterCA.create(now: issued.addingTimeInterval(-Self.day))
        let leaf = try ca.issue(LeafRequest(role: .machine, machineID: "m1", validity: .seconds(86400), backdate: .zero),
                                now: issued)
        return (ca, try NodeTLS(trustRoots: [ca.certificate], certificateChain: [leaf.certificate],
                                privateKey: leaf.privateKey))
    }

    @Test("a current certificate of this machine is accepted")
    func current() throws {
        let (_, tls) = try node(issued: Date().addingTimeInterval(-60))
        try tls.requireMachine("m1")
    }

    @Test("an expired certificate stops fleetd at start, saying when it expired")
    func expired() throws {
        let (_, tls) = try node(issued: Date().addingTimeInterval(-3 * Self.day))
        let error = #expect(throws: IdentityError.self) { try tls.requireMachine("m1") }
        #expect(error?.code == .untrusted)
        #expect(error?.message.contains("expired at") == true, "\(String(describing: error))")
    }

    @Test("a certificate that is not valid yet stops fleetd at start, pointing at the clock")
    func notYetValid() throws {
        let (_, tls) = try node(issued: Date().addingTimeInterval(2 * Self.day))
        let error = #expect(throws: IdentityError.self) { try tls.requireMachine("m1") }
        #expect(error?.code == .untrusted)
        #expect(error?.message.contains("clock") == true, "\(String(describing: error))")
    }

    @Test("the cluster's trust check refuses a certificate that is not valid yet")
    func trustRefusesTheFuture() async throws {
        let ca = try ClusterCA.create()
        let later = try ca.issue(LeafRequest(role: .admin, validity: .seconds(86400), backdate: .zero),
                                 now: Date().addingTimeInterval(2 * Self.day))
        let error = await #expect(throws: IdentityError.self) {
            try await ClusterTrust(roots: [ca.certificate]).verify(later.certificate)
        }
        #expect(error?.code == .untrusted)
    }
}
