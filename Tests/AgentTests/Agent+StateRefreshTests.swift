import FleetAgent
import FleetRegistry
import FleetStore
import FleetSystemd
import FleetUnit
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// Issue 16: an idle agent keeps its unit states alive with TTL refreshes, which change no value
/// and wake no watcher, instead of rewriting every state every 0.4 × TTL; a state that is not
/// what the store holds is still written in full. Against the in-memory stand-in for systemd.
@Suite struct AgentStateRefreshTests {
    func withRunningUnit(_ body: @Sendable (RecordingStore, Registry, String) async throws -> Void) async throws {
        try await withRunningWebUnit(on: RecordingStore(attaches: false), body)
    }

    @Test func anUnchangedStateIsRefreshedNotRewritten() async throws {
        try await withRunningUnit { store, registry, key in
            // Counted from the first refresh on: by then the start's own writes (which may come
            // as more than one under a busy test run) are done, and the state is unchanged. A
            // stall longer than the TTL (seen on a loaded CI machine) lets the state expire and
            // be written anew, rightly; what must not happen is a write of the value it holds.
            try await eventually("the state's TTL is refreshed") { store.counts(key).refreshes >= 1 }
            let presence = registry.keys.machine(MachineID("m1"))
            let (rewritesBefore, rewritesAfter) = try await withinOneRegistration(store, presence: presence) {
                let rewritesBefore = store.redundantWriteCount(key), refreshesBefore = store.counts(key).refreshes
                try await eventually("the state's TTL is refreshed twice more") {
                    store.counts(key).refreshes >= refreshesBefore + 2
                }
                return (rewritesBefore, store.redundantWriteCount(key))
            }
            #expect(rewritesAfter == rewritesBefore, "an unchanged state is never rewritten")
        }
    }

    @Test func aStateTheStoreHoldsDifferentlyIsWrittenInFull() async throws {
        try await withRunningUnit { store, _, key in
            // As if a change's write had failed: the store holds an older state.
            let current = try #require(try await store.value(key))
            try await store.set(key, current.replacingOccurrences(of: "\"active\"", with: "\"activating\""), ttl: 2)
            try await eventually("the current state is written back") { try await store.value(key) == current }
            // And a state the store lost (it expired during an outage) comes back.
            try await store.deleteIfPresent(key, recursive: false)
            try await eventually("the lost state is written again") { try await store.value(key) == current }
        }
    }
}
