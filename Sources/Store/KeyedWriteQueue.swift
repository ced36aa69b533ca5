/// Writes queued per key, off the caller's path, where only the newest wish for a key counts:
/// a key wished `a` then `b` while a batch is being written is written once, with `b`.
///
/// A batch holds each key once and is written concurrently (at most `concurrency` at a time);
/// batches run one after another, so what is done for one key stays in order (a removal is
/// never overtaken by an older write). The agent's unit states and discovery records go out
/// through one each: a caller that awaited each write in turn held up everything behind it
/// (issue 16: a machine's 67 discovery records written one round trip after another delayed
/// every state behind them by 0.3 s).
public actor KeyedWriteQueue<Key: Hashable & Sendable, Wish: Sendable> {
    public typealias Worker = @Sendable (Key, Wish) async -> Void

    private let work: Worker
    private let concurrency: Int
    private let keepsQueued: @Sendable (_ queued: Wish, _ new: Wish) -> Bool
    private var pending: [Key: Wish] = [:]
    private var order: [Key] = []
    private var working = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    /// - Parameter keepsQueued: true when a wish already queued for the key must stay and the
    ///   new one be dropped (a keep-alive must not replace a change); by default the new one wins.
    public init(concurrency: Int = 16,
                keepsQueued: @escaping @Sendable (_ queued: Wish, _ new: Wish) -> Bool = { _, _ in false },
                work: @escaping Worker) {
        self.concurrency = max(1, concurrency)
        self.keepsQueued = keepsQueued
        self.work = work
    }

    public func enqueue(_ key: Key, _ wish: Wish) {
        if let queued = pending[key], keepsQueued(queued, wish) { return }
        if pending.updateValue(wish, forKey: key) == nil { order.append(key) }
        guard !working else { return }
        working = true
        Task { await run() }
    }

    /// Returns once everything queued so far (and anything queued meanwhile) is written.
    public func drain() async {
        guard working else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    private func run() async {
        while !order.isEmpty {
            let batch = order.compactMap { key in pending[key].map { (key, $0) } }
            order = []
            pending = [:]
            let work = self.work, limit = concurrency
            await withTaskGroup(of: Void.self) { group in
                var next = batch.makeIterator()
                for _ in 0..<limit {
                    guard let (key, wish) = next.next() else { break }
                    group.addTask { await work(key, wish) }
                }
                while await group.next() != nil {
                    if let (key, wish) = next.next() { group.addTask { await work(key, wish) } }
                }
            }
        }
        working = false
        let waiters = idleWaiters
        idleWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
