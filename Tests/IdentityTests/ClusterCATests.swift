import Foundation
import Testing
import X509

@testable import FleetIdentity

@Suite("ClusterCA")
struct ClusterCATests {
    @Test("a machine certificate chains to its CA and reads back as its role and machine")
    func machineRoundTrip() async throws {
        let ca = try ClusterCA.create()
        let issued = try ca.issue(LeafRequest(role: .machine, machineID: "0123abcd", ipAddresses: ["10.0.0.2", "::1"],
                                              dnsNames: ["m1.example"]))
        let identity = try await ClusterTrust(roots: [ca.certificate]).verify(issued.certificate)
        #expect(identity == PeerIdentity(role: .machine, machineID: "0123abcd"))
        let names = try #require(try issued.certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("m1.example")))
        #expect(names.contains(.uniformResourceIdentifier("fleet://machine/0123abcd")))
        let usage = try #require(try issued.certificate.extensions.extendedKeyUsage)
        #expect(usage.contains(.serverAuth) && usage.contains(.clientAuth))
    }

    @Test("admin and discovery-reader certificates name no machine", arguments: [ClusterRole.admin, .discoveryReader])
    func otherRoles(role: ClusterRole) async throws {
        let ca = try ClusterCA.create()
        let issued = try ca.issue(LeafRequest(role: role))
        #expect(try await ClusterTrust(roots: [ca.certificate]).verify(issued.certificate) == PeerIdentity(role: role, machineID: nil))
    }

    @Test("a certificate from another CA is refused")
    func wrongCA() async throws {
        let ours = try ClusterCA.create()
        let theirs = try ClusterCA.create()
        let issued = try theirs.issue(LeafRequest(role: .admin))
        let error = await #expect(throws: IdentityError.self) {
            try await ClusterTrust(roots: [ours.certificate]).verify(issued.certificate)
        }
        #expect(error?.code == .untrusted)
    }

    @Test("an expired certificate is refused")
    func expired() async throws {
        let ca = try ClusterCA.create()
        let twoDaysAgo = Date().addingTimeInterval(-2 * 86400)
        let issued = try ca.issue(LeafRequest(role: .admin, validity: .seconds(86400), backdate: .zero), now: twoDaysAgo)
        let error = await #expect(throws: IdentityError.self) {
            try await ClusterTrust(roots: [ca.certificate]).verify(issued.certificate)
        }
        #expect(error?.code == .untrusted)
    }

    @Test("a leaf never outlives its CA")
    func cappedByCA() throws {
        let ca = try ClusterCA.create(validity: .seconds(3600))
        let issued = try ca.issue(LeafRequest(role: .admin))
        #expect(issued.certificate.notValidAfter <= ca.certificate.notValidAfter)
    }

    @Test("requests that could not be read back are refused")
    func badRequests() throws {
        let ca = try ClusterCA.create()
        let cases: [(LeafRequest, IdentityError.Code)] = [
            (LeafRequest(role: .machine), .badMachineID),
            (LeafRequest(role: .machine, machineID: "a/b"), .badMachineID),
            (LeafRequest(role: .machine, machineID: String(repeating: "a", count: 129)), .badMachineID),
            (LeafRequest(role: .admin, machineID: "abc"), .badMachineID),
            (LeafRequest(role: .admin, ipAddresses: ["10.0.0.300"]), .badName),
            (LeafRequest(role: .admin, dnsNames: ["bad name"]), .badName),
            (LeafRequest(role: .admin, dnsNames: Array(repeating: "a.b", count: 65)), .badName),
            (LeafRequest(role: .admin, validity: .zero), .badValidity),
            (LeafRequest(role: .admin, validity: .seconds(11 * 365 * 86400)), .badValidity),
        ]
        for (request, code) in cases {
            let error = #expect(throws: IdentityError.self) { try ca.issue(request) }
            #expect(error?.code == code, "\(request)")
        }
    }
}
