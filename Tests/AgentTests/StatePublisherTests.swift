import FleetUnit
import Synchronization
import Testing
@testable import FleetAgent

@Suite struct StatePublisherTests {
    /// Records writes; the first write of `gate` blocks until it is opened, to hold a batch open.
    final class Recorder: Sendable {
        let writes = Mutex<[String]>([])
        let gate = AsyncStream<Void>.makeStream()
        let firstStarted = AsyncStream<Void>.makeStream()
        let blockFirst: Bool
        let started = Mutex(false)

        init(blockFirst: Bool) { self.blockFirst = blockFirst }

        func write(_ unit: UnitName, _ operation: StatePublisher.Operation) async -> Bool {
            let first = started.withLock { started in defer { started = true }; return !started }
            if blockFirst && first {
                firstStarted.continuation.yield()
                for await _ in gate.stream { break }
            }
            writes.withLock { $0.append("\(operation) \(unit)") }
            return true
        }
    }

    @Test func onlyTheNewestWishForAUnitIsWrittenAndRemovalsKeepTheirOrder() async throws {
        let recorder = Recorder(blockFirst: true)
        let publisher = StatePublisher(concurrency: 4) { await recorder.write($0, $1) }
        let a = try UnitName("a.service"), b = try UnitName("b.service")
        await publisher.enqueue(a, .publish)  // first batch: blocked in its write
        for await _ in recorder.firstStarted.stream { break }
        // Queued while the first batch is open: b twice (one write), a removed after a publish.
        await publisher.enqueue(b, .publish)
        await publisher.enqueue(b, .publish)
        await publisher.enqueue(a, .publish)
        await publisher.enqueue(a, .remove)
        recorder.gate.continuation.yield()
        await publisher.drain()
        let writes = recorder.writes.withLock { $0 }
        #expect(writes.first == "publish a.service")
        #expect(writes.dropFirst().sorted() == ["publish b.service", "remove a.service"])
    }

    /// The periodic keep-alive must not turn a pending change into a mere TTL refresh.
    @Test func aRefreshNeverReplacesAWishAlreadyQueued() async throws {
        let recorder = Recorder(blockFirst: true)
        let publisher = StatePublisher(concurrency: 4) { await recorder.write($0, $1) }
        let a = try UnitName("a.service"), b = try UnitName("b.service"), c = try UnitName("c.service")
        await publisher.enqueue(a, .refresh)  // first batch: blocked in its write
        for await _ in recorder.firstStarted.stream { break }
        await publisher.enqueue(b, .publish)
        await publisher.enqueue(b, .refresh)
        await publisher.enqueue(c, .remove)
        await publisher.enqueue(c, .refresh)
        await publisher.enqueue(a, .refresh)
        recorder.gate.continuation.yield()
        await publisher.drain()
        let writes = recorder.writes.withLock { $0 }
        #expect(writes.first == "refresh a.service")
        #expect(writes.dropFirst().sorted() == ["publish b.service", "refresh a.service", "remove c.service"])
    }

    @Test func drainReturnsAtOnceWhenIdle() async {
        let publisher = StatePublisher { _, _ in true }
        await publisher.drain()
    }
}
