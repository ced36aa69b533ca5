import FleetRegistry
import FleetStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import FleetTestSupport
import Testing
@testable import FleetAPI

/// Creating a unit reads the unit (does it exist?) and whether its contents are stored at the
/// same time, not one after the other (issue 16 item 2: on etcd each read is a round trip, and
/// `fleetctl start` of 200 units waits for 200 creations).
@Suite struct FleetAPICreateReadsTests {
    /// Holds the read of a unit until the read of its contents has started, for at most 2 s:
    /// it comes in time only when both reads are out together. Records whether it came.
    final class Outcome: Sendable {
        let sawContentsRead = Mutex<Bool?>(nil)
    }

    static func readOrderStore(_ outcome: Outcome) -> ReadCountingStore {
        let keys = RegistryKeys()
        let contentsRead = AsyncStream<Void>.makeStream()
        return ReadCountingStore(counting: keys.unitFiles) { key in
            if StoreKey.isWithin(key, keys.unitFiles) { contentsRead.continuation.yield() }
            guard StoreKey.isWithin(key, keys.jobs), key != keys.jobs else { return }
            let came = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await contentsRead.stream.first { true } != nil }
                group.addTask {
                    try? await Task.sleep(for: .seconds(2))
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            outcome.sawContentsRead.withLock { $0 = came }
        }
    }

    @Test func theUnitAndItsContentsAreReadTogether() async throws {
        let outcome = Outcome()
        let store = Self.readOrderStore(outcome)
        let router = Router()
        APIRoutes(registry: Registry(store: store)).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/fleet/v1/units/web.service", method: .put,
                                     headers: [.contentType: "application/json"],
                                     body: FleetAPIUnitsTests.body(exec: "/bin/sleep 1000", desiredState: "launched")) { response in
                #expect(response.status == .created)
            }
        }
        #expect(outcome.sawContentsRead.withLock { $0 } == true,
                "the unit's read waited 2 s for its contents' read, which came only after it")
        #expect(try await Registry(store: store).units().map(\.name.rawValue) == ["web.service"])
    }
}
