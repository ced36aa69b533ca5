import FleetStore
import Testing

/// The first `count` events of `stream`, or a test failure if they do not come within `seconds`
/// (a bounded wait: a watch that never delivers fails the test instead of hanging it).
public func firstEvents(_ stream: AsyncThrowingStream<StoreEvent, any Error>, count: Int,
                        within seconds: Double = 5) async throws -> [StoreEvent] {
    try await withThrowingTaskGroup(of: [StoreEvent]?.self) { group in
        group.addTask {
            var events: [StoreEvent] = []
            for try await event in stream {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let events = first else {
            Issue.record("no \(count) watch events within \(seconds) s")
            return []
        }
        return events
    }
}
