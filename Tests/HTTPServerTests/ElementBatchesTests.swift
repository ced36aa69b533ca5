import FleetHTTPServer
import Synchronization
import Testing

/// A streaming response takes whatever arrived at once (issue 16: one TLS record and flush per
/// watch event was the store machine's largest cost after the zone).
@Suite struct ElementBatchesTests {
    struct Overflow: Error, Equatable { var at: Int }
    struct Broken: Error {}

    @Test func whatArrivedMeanwhileComesAsOneBatchAndNothingIsLost() async throws {
        let (source, feed) = AsyncThrowingStream<Int, any Error>.makeStream()
        let batches = batchesUntilDisconnected(source, channel: nil, limit: 1000) { Overflow(at: $0) }
        defer { batches.finish() }
        var iterator = batches.makeAsyncIterator()
        feed.yield(0)
        #expect(try await iterator.next() == [0])
        for i in 1...100 { feed.yield(i) }
        var taken: [Int] = [0]
        var calls = 1
        while taken.count < 101, let batch = try await iterator.next() {
            #expect(!batch.isEmpty)
            taken += batch
            calls += 1
        }
        #expect(taken == Array(0...100))
        #expect(calls < 101, "a burst is taken in fewer batches than elements (\(calls))")
        feed.finish(throwing: Broken())
        await #expect(throws: Broken.self) { _ = try await iterator.next() }
    }

    @Test func aConsumerTooFarBehindEndsTheSequenceAndStopsTheSource() async throws {
        let stopped = Mutex(false)
        let (source, feed) = AsyncThrowingStream<Int, any Error>.makeStream()
        feed.onTermination = { _ in stopped.withLock { $0 = true } }
        let batches = batchesUntilDisconnected(source, channel: nil, limit: 10) { Overflow(at: $0) }
        defer { batches.finish() }
        for i in 0..<50 { feed.yield(i) }
        // The consumer starts only once the sequence gave up on it: one that started at once
        // could keep up with the source, never fall ten behind, and wait for ever for more.
        try await eventually("the source is no longer iterated") { stopped.withLock { $0 } }
        guard stopped.withLock({ $0 }) else { return }  // recorded; consuming would wait for ever
        var iterator = batches.makeAsyncIterator()
        var taken: [Int] = []
        do {
            while let batch = try await iterator.next() { taken += batch }
            Issue.record("ended without the overflow")
        } catch let error as Overflow {
            #expect(error == Overflow(at: 10))
        }
        #expect(taken == Array(0..<10), "what was queued before the overflow is still handed over")
    }

    @Test func finishingEarlyStopsTheSource() async throws {
        let stopped = Mutex(false)
        let (source, feed) = AsyncThrowingStream<Int, any Error>.makeStream()
        feed.onTermination = { _ in stopped.withLock { $0 = true } }
        let batches = batchesUntilDisconnected(source, channel: nil, limit: 10) { Overflow(at: $0) }
        feed.yield(1)
        var iterator = batches.makeAsyncIterator()
        #expect(try await iterator.next() == [1])
        batches.finish()  // a one-event watch leaves after its event
        try await eventually("the source is no longer iterated") { stopped.withLock { $0 } }
        #expect(try await iterator.next() == nil)
    }

    /// With a heartbeat interval, a quiet source gives empty batches (the response writes a
    /// heartbeat for each), and a busy one none: a taken batch counts as heard.
    @Test func aQuietSourceGivesHeartbeatsABusyOneDoesNot() async throws {
        let (source, feed) = AsyncThrowingStream<Int, any Error>.makeStream()
        let batches = batchesUntilDisconnected(source, channel: nil, limit: 1000, heartbeat: .milliseconds(600)) {
            Overflow(at: $0)
        }
        defer { batches.finish() }
        var iterator = batches.makeAsyncIterator()
        let quietStart = ContinuousClock.now
        #expect(try await iterator.next() == [], "a quiet source gives a heartbeat")
        #expect(ContinuousClock.now - quietStart >= .milliseconds(550), "not before the interval")
        #expect(try await iterator.next() == [], "and another")
        // Busy: an element every 30 ms for 1.2 s, two intervals; each is taken long before the
        // interval runs out, so no heartbeat comes between them.
        let feeder = Task {
            for i in 1...40 {
                feed.yield(i)
                try? await Task.sleep(for: .milliseconds(30))
            }
        }
        var taken: [Int] = []
        var heartbeats = 0
        while taken.count < 40, let batch = try await iterator.next() {
            if batch.isEmpty { heartbeats += 1 } else { taken += batch }
        }
        await feeder.value
        #expect(taken == Array(1...40))
        #expect(heartbeats == 0, "a heartbeat came while elements flowed")
    }

    @Test func aCancelledConsumerStopsWaitingAndTheSource() async throws {
        let stopped = Mutex(false)
        let (source, feed) = AsyncThrowingStream<Int, any Error>.makeStream()
        feed.onTermination = { _ in stopped.withLock { $0 = true } }
        let batches = batchesUntilDisconnected(source, channel: nil, limit: 10) { Overflow(at: $0) }
        let tookFirst = Mutex(false)
        feed.yield(1)
        let consumer = Task {
            var iterator = batches.makeAsyncIterator()
            _ = try await iterator.next()
            tookFirst.withLock { $0 = true }
            return try await iterator.next()  // waits: nothing more comes
        }
        try await eventually("the consumer took the first batch") { tookFirst.withLock { $0 } }
        consumer.cancel()
        await #expect(throws: CancellationError.self) { _ = try await consumer.value }
        try await eventually("the source is no longer iterated") { stopped.withLock { $0 } }
    }
}
