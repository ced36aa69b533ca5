@testable import FleetRegistry
import FleetStore
import FleetUnit
import Synchronization
import Testing

/// Listings decode only what changed since the last one (issue 16: `fleetctl start` polls every
/// state every 50 ms), and still return exactly what the store holds.
@Suite struct RegistryDecodeMemoTests {
    @Test func onlyChangedTextsAreDecodedAgain() {
        let memo = DecodeMemo<Int>()
        let decodes = Mutex(0)
        func decode(_ text: String) -> Int? {
            decodes.withLock { $0 += 1 }
            return Int(text)
        }
        #expect(memo.decodeAll([("a", "1"), ("b", "2"), ("c", "x")], decode) == [1, 2, nil])
        #expect(decodes.withLock { $0 } == 3)
        #expect(memo.decodeAll([("a", "1"), ("b", "20"), ("c", "x")], decode) == [1, 20, nil])
        #expect(decodes.withLock { $0 } == 5, "b changed; c was refused, so it is tried again")
        _ = memo.decodeAll([("b", "20")], decode)
        #expect(memo.decodeAll([("a", "1"), ("b", "20")], decode) == [1, 20])
        #expect(decodes.withLock { $0 } == 6, "a left the listing in between, so it was forgotten")
    }

    @Test func listingsFollowTheStore() async throws {
        let registry = Registry(store: InMemoryStore())
        let file = try UnitFile(parsing: "[Service]\nExecStart=/bin/sleep 1000\n")
        let web = try UnitName("web.service")
        func state(_ active: ActiveState) -> UnitStateRecord {
            UnitStateRecord(name: web, machineID: MachineID("m1"), hash: file.hash, loadState: "loaded",
                            activeState: active, subState: "x", jobState: .launched)
        }
        try await registry.publishState(state(.activating), lifetime: .ttl(60))
        #expect(try await registry.states().map(\.activeState) == [.activating])
        try await registry.publishState(state(.active), lifetime: .ttl(60))
        #expect(try await registry.states().map(\.activeState) == [.active])

        try await registry.createUnit(web, file: file, desiredState: .loaded)
        #expect(try await registry.units().map(\.desiredState) == [.loaded])
        try await registry.setDesiredState(web, .launched)
        #expect(try await registry.units().map(\.desiredState) == [.launched])
        try await registry.destroyUnit(web)
        #expect(try await registry.units().isEmpty)
    }
}
