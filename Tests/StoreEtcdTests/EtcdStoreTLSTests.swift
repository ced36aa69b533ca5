import FleetStore
import FleetStoreTesting
@testable import FleetStoreEtcd
import Foundation
import Testing

/// Client TLS against a member started with `--cert-file/--key-file/--trusted-ca-file
/// --client-cert-auth`. Runs only when `FLEET_TEST_ETCD_TLS_ENDPOINTS` names such a member and
/// `FLEET_TEST_ETCD_TLS_CA`, `..._CERT` and `..._KEY` name the PEM files to use.
/// Where the TLS member is and the client's PEM files; nil (tests skipped) unless all are set.
enum EtcdTLSTestEnvironment {
    static let value: (endpoints: [String], tls: EtcdStore.TLS)? = {
        let env = ProcessInfo.processInfo.environment
        guard let list = env["FLEET_TEST_ETCD_TLS_ENDPOINTS"], let ca = env["FLEET_TEST_ETCD_TLS_CA"],
              let cert = env["FLEET_TEST_ETCD_TLS_CERT"], let key = env["FLEET_TEST_ETCD_TLS_KEY"]
        else { return nil }
        return (EtcdStore.Configuration.endpoints(fromList: list),
                EtcdStore.TLS(caFile: ca, certificateFile: cert, keyFile: key))
    }()
}

@Suite(.enabled(if: EtcdTLSTestEnvironment.value != nil, "needs FLEET_TEST_ETCD_TLS_ENDPOINTS and its PEM files"))
struct EtcdStoreTLSTests {
    @Test(arguments: EtcdStore.Transport.allCases)
    func readsWritesAndWatchesOverTLS(_ transport: EtcdStore.Transport) async throws {
        let (endpoints, tls) = try #require(EtcdTLSTestEnvironment.value)
        let store = try EtcdStore(configuration: .init(endpoints: endpoints, keyPrefix: "/fleet-tls-test/\(UUID())",
                                                       tls: tls, transport: transport))
        #expect((store.gateway.grpc != nil) == (transport == .grpc), "requests go the way the configuration says")
        do {
            let watch = try await store.watch("/t", recursive: true, fromIndex: nil)
            let written = try await store.set("/t/k", "secret")
            #expect(try await store.value("/t/k") == "secret")
            let events = try await firstEvents(watch, count: 1)
            #expect(events.first?.index == written.index)
            try await store.removeEverything()
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    @Test(arguments: EtcdStore.Transport.allCases)
    func aClientWithoutTheCertificateIsRefused(_ transport: EtcdStore.Transport) async throws {
        let (endpoints, tls) = try #require(EtcdTLSTestEnvironment.value)
        let store = try EtcdStore(configuration: .init(endpoints: endpoints, tls: EtcdStore.TLS(caFile: tls.caFile),
                                                       requestTimeout: .seconds(2), transport: transport))
        let error = await #expect(throws: StoreError.self) { try await store.currentIndex() }
        #expect(error.map { "\($0)" }?.contains("TLS") == true, "the error names TLS, not a member that did not answer: \(String(describing: error))")
        await store.shutdown()
    }
}
