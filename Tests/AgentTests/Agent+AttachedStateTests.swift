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

/// Issue 16, item 1: on a store that attaches keys, a machine's unit states live as long as its
/// presence. An idle machine then writes its presence and nothing else, and a lost presence
/// takes the states with it at once; the agent writes them again when it registers anew.
@Suite struct AgentAttachedStateTests {
    let machine = MachineID("m1")

    func withRunningUnit(_ body: @Sendable (RecordingStore, Registry, String) async throws -> Void) async throws {
        try await withRunningWebUnit(on: RecordingStore(attaches: true), body)
    }

    @Test func anIdleMachineRefreshesItsPresenceAndWritesNoState() async throws {
        try await withRunningUnit { store, registry, key in
            let presence = registry.keys.machine(machine)
            // Counted from two refreshes on: by then the start's own state writes (more than one
            // under a busy test run) are done.
            let settled = store.writeCount(presence)
            try await eventually("the presence is refreshed twice") { store.writeCount(presence) >= settled + 2 }
            // Six presence refreshes: 3 s, one and a half TTLs, in which a state with a TTL of
            // its own would have been refreshed (or rewritten) three or four times. Only writes
            // of a live, unchanged state count, in a stretch the presence lived through.
            let (before, after) = try await withinOneRegistration(store, presence: presence) {
                let presenceBefore = store.writeCount(presence)
                let before = (store.counts(key).refreshes, store.redundantWriteCount(key))
                try await eventually("the presence is refreshed six times") { store.writeCount(presence) >= presenceBefore + 6 }
                return (before, (store.counts(key).refreshes, store.redundantWriteCount(key)))
            }
            #expect(after.0 == before.0, "an attached state is never refreshed")
            #expect(after.1 == before.1, "an idle machine rewrites no unit state")
            #expect(try await store.value(key) != nil, "the state lives on with the presence")
        }
    }

    @Test func aLostPresenceTakesTheStatesAndTheAgentWritesThemAgain() async throws {
        try await withRunningUnit { store, registry, key in
            let presence = registry.keys.machine(machine)
            // As if the presence had expired during an outage.
            try await store.delete(presence)
            #expect(try await store.value(key) == nil, "the state goes with the presence, at once")
            try await eventually("the machine registers again and republishes its state") {
                let registered = try await store.value(presence) != nil
                let republished = try await store.value(key) != nil
                return registered && republished
            }
        }
    }

    @Test func anAgentOnAStoreThatLearnsToAttachSwitchesToAttachedStates() async throws {
        try await withRunningWebUnit(on: RecordingStore(attaches: false)) { store, registry, key in
            try await eventually("the state is kept alive by TTL refreshes") { store.counts(key).refreshes >= 1 }
            #expect(!store.lastWriteAttached(key))
            // The fleetd holding the store was upgraded.
            store.attaches.withLock { $0 = true }
            try await eventually("the state is written again, attached to the presence") { store.lastWriteAttached(key) }
            let refreshes = store.counts(key).refreshes
            let presence = registry.keys.machine(machine)
            let presenceBefore = store.writeCount(presence)
            try await eventually("the presence is refreshed six times") { store.writeCount(presence) >= presenceBefore + 6 }
            #expect(store.counts(key).refreshes == refreshes, "an attached state is not refreshed")
            try await store.delete(presence)
            #expect(try await store.value(key) == nil, "the state now goes with the presence")
        }
    }
}
