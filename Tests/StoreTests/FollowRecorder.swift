import FleetStore
import Synchronization
import Testing

/// Iterates a follower on a task of its own and keeps everything it delivers, so a test can act
/// on the store between deliveries and wait (bounded) for what it expects.
final class FollowRecorder<Snapshot: Sendable>: Sendable {
    typealias Element = StoreFollowEvent<Snapshot>

    private let seen = Mutex<[Element]>([])
    private let signals: AsyncStream<Void>
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ follower: StoreFollower<Snapshot>) {
        let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.signals = signals
        let iteration = Task { [self] in
            for await element in follower {
                seen.withLock { $0.append(element) }
                signal.yield()
            }
            signal.finish()
        }
        task.withLock { $0 = iteration }
    }

    var elements: [Element] { seen.withLock { $0 } }
    var events: [StoreEvent] { elements.compactMap(\.storeEvent) }

    /// Waits until `condition` holds for what was delivered; records an issue naming `what` and
    /// returns false if it does not within `seconds`.
    @discardableResult
    func wait(for what: String, within seconds: Double = 15,
              until condition: @escaping @Sendable ([Element]) -> Bool) async -> Bool {
        if condition(elements) { return true }
        let met = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in self.signals where condition(self.elements) { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !met { Issue.record("the follower did not deliver \(what) within \(seconds) s; it delivered \(elements)") }
        return met
    }

    /// Ends the iteration and waits for the task to end.
    func stop() async {
        guard let iteration = task.withLock({ $0 }) else { return }
        iteration.cancel()
        await iteration.value
    }
}

extension StoreFollowEvent {
    var storeEvent: StoreEvent? {
        if case let .event(event) = self { return event }
        return nil
    }

    var snapshotIndex: UInt64? {
        if case let .snapshot(_, index) = self { return index }
        return nil
    }

    var isLost: Bool {
        if case .lost = self { return true }
        return false
    }

    var isRestored: Bool {
        if case .restored = self { return true }
        return false
    }
}
