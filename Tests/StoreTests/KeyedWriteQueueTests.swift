import FleetStore
import Synchronization
import Testing

/// Issue 16: a unit state write that failed (a store call spanning a freeze of the fleetd) was
/// dropped until the agent's 30-s resync. The queue now tries a failed write again.
@Suite struct KeyedWriteQueueTests {
    /// Fails the first `failures` writes of each key; records every attempt and announces
    /// each one written.
    final class FlakyStore: Sendable {
        let failures: Int
        let attempts = Mutex<[String]>([])
        let written = AsyncStream<String>.makeStream()

        init(failures: Int) { self.failures = failures }

        func write(_ key: String, _ wish: String) -> Bool {
            let tries = attempts.withLock { attempts in
                attempts.append("\(key)=\(wish)")
                return attempts.count { $0.hasPrefix("\(key)=") }
            }
            guard tries > failures else { return false }
            written.continuation.yield("\(key)=\(wish)")
            return true
        }

        func tries(_ key: String) -> [String] { attempts.withLock { $0.filter { $0.hasPrefix("\(key)=") } } }
    }

    static let quick = WriteRetryPolicy(first: .milliseconds(5), longest: .milliseconds(20), attempts: 4)

    /// Waits (bounded) for the next announced write.
    func nextWrite(_ store: FlakyStore) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { for await write in store.written.stream { return write }; return nil }
            group.addTask { try await Task.sleep(for: .seconds(10)); return nil }
            defer { group.cancelAll() }
            guard let write = try await group.next() ?? nil else {
                Issue.record("no write succeeded within 10 s")
                return ""
            }
            return write
        }
    }

    @Test func aFailedWriteIsTriedAgainUntilItIsWritten() async throws {
        let store = FlakyStore(failures: 2)
        let queue = KeyedWriteQueue<String, String>(retry: Self.quick) { store.write($0, $1) }
        await queue.enqueue("a", "1")
        #expect(try await nextWrite(store) == "a=1")
        #expect(store.tries("a") == ["a=1", "a=1", "a=1"])
    }

    @Test func retriesGiveUpAfterThePolicysAttempts() async throws {
        let store = FlakyStore(failures: 100)
        let queue = KeyedWriteQueue<String, String>(retry: Self.quick) { store.write($0, $1) }
        await queue.enqueue("a", "1")
        // 1 + 4 attempts take about 5 + 10 + 20 + 20 ms; then a newer wish is written at once
        // (its own first attempt), so waiting for the count to settle is bounded.
        let deadline = ContinuousClock.now + .seconds(10)
        while store.tries("a").count < 5, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(200))  // longer than any back-off: no sixth try may come
        #expect(store.tries("a").count == 5, "one write and four retries, then nothing")
    }

    /// A wish made while a failed one waits for its retry replaces it: the old value is never
    /// written after the new one.
    @Test func aNewerWishCancelsTheRetryOfAnOlderOne() async throws {
        let store = FlakyStore(failures: 1)
        let slow = WriteRetryPolicy(first: .milliseconds(300), longest: .milliseconds(300), attempts: 3)
        let queue = KeyedWriteQueue<String, String>(retry: slow) { store.write($0, $1) }
        await queue.enqueue("a", "old")
        await queue.drain()  // the first attempt failed; its retry waits 300 ms
        await queue.enqueue("a", "new")
        #expect(try await nextWrite(store) == "a=new")
        try await Task.sleep(for: .milliseconds(500))  // past the cancelled retry's back-off
        #expect(store.tries("a") == ["a=old", "a=new"])
    }

    @Test func closingEndsRetries() async throws {
        let store = FlakyStore(failures: 100)
        let slow = WriteRetryPolicy(first: .milliseconds(100), longest: .milliseconds(100), attempts: 5)
        let queue = KeyedWriteQueue<String, String>(retry: slow) { store.write($0, $1) }
        await queue.enqueue("a", "1")
        await queue.drain()
        await queue.close()
        await queue.enqueue("b", "1")
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.tries("a") == ["a=1"], "no retry after close")
        #expect(store.tries("b").isEmpty, "nothing queued after close")
    }

    @Test func theBackOffDoublesUpToItsLongest() {
        let policy = WriteRetryPolicy(first: .milliseconds(250), longest: .seconds(5), attempts: 10)
        #expect((1...8).map { policy.delay(before: $0) }
            == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5), .seconds(5)])
    }
}
