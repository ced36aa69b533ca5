/// Writes queued per key, off the caller's path, where only the newest wish for a key counts:
/// a key wished `a` then `b` while a batch is being written is written once, with `b`.
///
/// A batch holds each key once and is written concurrently (at most `concurrency` at a time);
/// batches run one after another, so what is done for one key stays in order (a removal is
/// never overtaken by an older write). The agent's unit states and discovery records go out
/// through one each: a caller that awaited each write in turn held up everything behind it
/// (issue 16: a machine's 67 discovery records written one round trip after another delayed
/// every state behind them by 0.3 s).
///
/// A write that fails is tried again after a back-off (``WriteRetryPolicy``) unless a newer wish for
/// its key comes first: a store that hiccups (a member frozen past the request timeout, a
/// leader election) must not leave a unit's state unwritten until the next periodic resync,
/// which held a started unit's `active` back by 30 s (issue 16, the leader-fencing test on etcd).
public actor KeyedWriteQueue<Key: Hashable & Sendable, Wish: Sendable> {
    /// Writes one wish; returns false when it failed and is worth trying again.
    public typealias Worker = @Sendable (Key, Wish) async -> Bool

    private let work: Worker
    private let concurrency: Int
    private let keepsQueued: @Sendable (_ queued: Wish, _ new: Wish) -> Bool
    private let retry: WriteRetryPolicy
    private var pending: [Key: Wish] = [:]
    private var order: [Key] = []
    private var working = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Keys whose last write failed, with the retries made so far and the token of the one
    /// scheduled: a newer wish or a success removes the entry, which cancels that retry.
    private var failed: [Key: (retries: Int, token: UInt64)] = [:]
    private var nextToken: UInt64 = 0
    private var closed = false

    /// - Parameter keepsQueued: true when a wish already queued for the key must stay and the
    ///   new one be dropped (a keep-alive must not replace a change); by default the new one wins.
    public init(concurrency: Int = 16,
                retry: WriteRetryPolicy = .standard,
                keepsQueued: @escaping @Sendable (_ queued: Wish, _ new: Wish) -> Bool = { _, _ in false },
                work: @escaping Worker) {
        self.concurrency = max(1, concurrency)
        self.retry = retry
        self.keepsQueued = keepsQueued
        self.work = work
    }

    public func enqueue(_ key: Key, _ wish: Wish) {
        guard !closed else { return }
        if let queued = pending[key], keepsQueued(queued, wish) { return }
        failed[key] = nil
        add(key, wish)
    }

    /// Returns once everything queued so far (and anything queued meanwhile) is written. A
    /// retry still waiting for its back-off is not waited for: the store may be gone for long.
    public func drain() async {
        guard working else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    /// Ends retries; later wishes are dropped. For the owner's shutdown: a retry made after it
    /// would write what a stopped agent last knew.
    public func close() {
        closed = true
        failed = [:]
    }

    private func add(_ key: Key, _ wish: Wish) {
        if pending.updateValue(wish, forKey: key) == nil { order.append(key) }
        guard !working else { return }
        working = true
        Task { await run() }
    }

    private func run() async {
        while !order.isEmpty {
            let batch = order.compactMap { key in pending[key].map { (key, $0) } }
            order = []
            pending = [:]
            let work = self.work, limit = concurrency
            await withTaskGroup(of: (Key, Wish, Bool).self) { group in
                var next = batch.makeIterator()
                for _ in 0..<limit {
                    guard let (key, wish) = next.next() else { break }
                    group.addTask { (key, wish, await work(key, wish)) }
                }
                while let (key, wish, written) = await group.next() {
                    written ? succeeded(key) : scheduleRetry(key, wish)
                    if let (key, wish) = next.next() { group.addTask { (key, wish, await work(key, wish)) } }
                }
            }
        }
        working = false
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func succeeded(_ key: Key) {
        failed[key] = nil
    }

    private func scheduleRetry(_ key: Key, _ wish: Wish) {
        // A newer wish queued meanwhile writes the key anyway.
        guard !closed, pending[key] == nil else { return }
        let retries = (failed[key]?.retries ?? 0) + 1
        guard retries <= retry.attempts else {
            failed[key] = nil
            return
        }
        nextToken &+= 1
        let token = nextToken
        failed[key] = (retries, token)
        let delay = retry.delay(before: retries)
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.retryDue(key, wish, token: token)
        }
    }

    private func retryDue(_ key: Key, _ wish: Wish, token: UInt64) {
        guard !closed, failed[key]?.token == token, pending[key] == nil else { return }
        add(key, wish)
    }
}

/// When a ``KeyedWriteQueue`` tries a failed write again: `first`, then doubling up to `longest`, at most
/// `attempts` times in all; after that the key waits for its next wish.
public struct WriteRetryPolicy: Sendable {
    public var first: Duration
    public var longest: Duration
    public var attempts: Int

    public init(first: Duration, longest: Duration, attempts: Int) {
        self.first = first
        self.longest = longest
        self.attempts = attempts
    }

    /// 0.25 s doubling to 5 s, ten tries: about 33 s, past a 30-s store outage.
    public static let standard = WriteRetryPolicy(first: .milliseconds(250), longest: .seconds(5), attempts: 10)
    public static let never = WriteRetryPolicy(first: .zero, longest: .zero, attempts: 0)

    /// The wait before retry number `attempt` (1 for the first).
    public func delay(before attempt: Int) -> Duration {
        var delay = first
        for _ in 1..<max(1, attempt) where delay < longest { delay = delay * 2 }
        return min(delay, longest)
    }
}
