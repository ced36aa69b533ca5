import FleetRegistry
import FleetStore
import FleetUnit
import Synchronization

/// The engine's ``ClusterModel``, fed by its watch and read by its passes.
///
/// Besides the model it knows the index of the last event applied, so a pass can wait until
/// the model has seen the engine's own earlier writes (a pass planned on a model that does
/// not yet show its previous placements would place those units again).
final class ModelFeed: Sendable {
    private struct State {
        var model: ClusterModel?
        var applied: UInt64 = 0
        /// Bumped by every load and every event: equal generations mean the same model.
        var generation: UInt64 = 0
        var waiters: [(index: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []

        /// Takes the waiters whose index has been reached.
        mutating func release() -> [CheckedContinuation<Bool, Never>] {
            let ready = waiters.filter { $0.index <= applied }
            waiters.removeAll { $0.index <= applied }
            return ready.map(\.continuation)
        }
    }

    private let state = Mutex(State())
    fileprivate let ownWrites = Mutex<UInt64?>(nil)

    /// Replaces the model with a fresh load that covers the store up to `index`.
    func reset(_ model: ClusterModel, asOf index: UInt64) {
        let resumed = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.model = model
            state.generation &+= 1
            state.applied = max(state.applied, index)
            return state.release()
        }
        for continuation in resumed { continuation.resume(returning: true) }
    }

    /// Forgets the model (the engine stopped leading and stops following the registry): the
    /// next pass reads the registry until a fresh load comes.
    func clear() {
        state.withLock { state in
            state.model = nil
            state.generation &+= 1
        }
    }

    func apply(_ event: StoreEvent) {
        let resumed = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.model?.apply(event)
            state.generation &+= 1
            state.applied = max(state.applied, event.index)
            return state.release()
        }
        for continuation in resumed { continuation.resume(returning: true) }
    }

    /// ``ClusterModel/isDesiredStateOfUnknownUnit(_:)`` of the model; false without one.
    func isDesiredStateOfUnknownUnit(_ key: String) -> Bool {
        state.withLock { $0.model?.isDesiredStateOfUnknownUnit(key) ?? false }
    }

    /// What a pass plans from, and the model's generation; nil until the first load.
    func snapshot() -> (units: [UnitRecord], machines: [MachineRecord], assignments: [MachineID: [UnitName: Assignment]],
                        generation: UInt64)? {
        state.withLock { state in
            guard let model = state.model else { return nil }
            return (model.units, model.machines, model.assignments, state.generation)
        }
    }

    /// Waits until events up to `index` are applied; false if that takes longer than `timeout`.
    func waitUntilApplied(_ index: UInt64, timeout: Duration) async -> Bool {
        let done = state.withLock { $0.applied >= index }
        if done { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let ready = self.state.withLock { state -> Bool in
                        if state.applied >= index { return true }
                        state.waiters.append((index, continuation))
                        return false
                    }
                    if ready { continuation.resume(returning: true) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            if !first { self.cancelWaiters(upTo: index) }  // lets the waiting task end
            group.cancelAll()
            _ = await group.next()
            return first
        }
    }

    private func cancelWaiters(upTo index: UInt64) {
        let cancelled = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            let (matching, rest) = (state.waiters.filter { $0.index <= index }, state.waiters.filter { $0.index > index })
            state.waiters = rest
            return matching.map(\.continuation)
        }
        for continuation in cancelled { continuation.resume(returning: false) }
    }
}

extension ModelFeed {
    /// The store index of the newest placement or assignment a pass wrote, if any.
    var lastOwnWrite: UInt64? { ownWrites.withLock { $0 } }

    func noteOwnWrite(_ index: UInt64) { ownWrites.withLock { $0 = max($0 ?? 0, index) } }
}

/// What one pass's writes did: the newest index written, and units found placed already.
final class PlacementOutcome: Sendable {
    private let state = Mutex<(last: UInt64?, skipped: Set<UnitName>)>((nil, []))

    func written(_ index: UInt64) { state.withLock { $0.last = max($0.last ?? 0, index) } }
    func alreadyPlaced(_ unit: UnitName) { _ = state.withLock { $0.skipped.insert(unit) } }
    var lastIndex: UInt64? { state.withLock { $0.last } }
    var skipped: Set<UnitName> { state.withLock { $0.skipped } }
}
