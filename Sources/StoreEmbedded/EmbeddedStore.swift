import FleetStore
import Foundation
import ServiceLifecycle
import Synchronization

/// The durable store `fleetd` carries: ``InMemoryStore``'s semantics, with every acknowledged
/// write on disk first (SQLite, WAL mode, `synchronous=FULL`).
///
/// How a write travels: the actor checks it against ``working`` (every write accepted so far),
/// records its row changes and hands them to the store's own SQLite thread (``EmbeddedWriter``),
/// which commits everything queued in one transaction. When the ticket comes back the actor
/// replays the changes onto ``committed``, publishes the events to the history and to watchers,
/// and only then returns. Reads, watches and ``currentIndex()`` see ``committed`` only, so nobody
/// ever observes a change that a crash could take back.
///
/// Reopening the same path restores every key with its indexes and absolute TTL deadline, the
/// global index and the recent watch history; keys whose deadline passed while the store was
/// closed expire during ``init(path:historyLimit:now:)`` with `expire` events.
///
/// Run it as a `Service` so keys with a TTL expire on time; when ``run()`` returns, the store is
/// closed. Without ``run()``, call ``close()`` when done (reads and writes also expire due keys
/// first, as in ``InMemoryStore``).
public actor EmbeddedStore: KeyValueStore, Service {
    /// The database file.
    public nonisolated let path: String
    /// Files whose group or other access was taken away on opening (left by an older fleetd);
    /// new files are created owner-only. fleetd logs these.
    package nonisolated let tightenedFiles: [StoreFileModes.Change]
    let writer: EmbeddedWriter
    let now: @Sendable () -> Date

    /// Every write accepted so far, including those still on their way to disk. New writes are
    /// checked against this, so a burst of writes is decided in order without waiting for disk.
    var working: StoreTree
    /// What is on disk. Reads, watches and the index come from here.
    var committed: StoreTree
    /// Published events (all on disk), for watches that start in the past.
    var history: EventHistory
    /// Commits handed to the writer and not yet replayed onto ``committed``, oldest first.
    var inFlight: [EmbeddedCommit] = []
    /// Bumped when a commit fails and ``working`` is rebuilt from ``committed``.
    var generation: UInt64 = 0
    var isClosed = false
    var watchers = StoreWatchers()
    /// When ``run()`` wakes next to expire keys (nil while it is not asleep); a write that adds
    /// an earlier deadline wakes it sooner (``expirySleep``).
    var scheduledExpiryWake: Date?
    nonisolated let expirySleep = Mutex(ExpirySleep())

    /// Opens the store at `path`, creating the file if needed.
    ///
    /// Opening reads the whole store into memory and checks the file, on the store's own thread;
    /// this initialiser blocks its caller until that is done (milliseconds for fleet's data).
    ///
    /// - Parameters:
    ///   - path: the SQLite file; its directory must exist. `-wal` and `-shm` files appear beside it.
    ///     All three are owner-only (0600); see ``StoreFileModes``.
    ///   - historyLimit: how many recent events a watch can reach back to (etcd keeps 1000).
    ///   - now: the wall clock; tests pass a manual one and call ``expireDueKeys()``.
    ///   - watchLimits: how many watches at once, and how far behind each may fall.
    /// - Throws: ``StoreError/Code/unavailable`` naming `path` when the file cannot be opened,
    ///   is damaged, is not a fleet store, or is in use by another process.
    public init(path: String, historyLimit: Int = 1000, now: @escaping @Sendable () -> Date = { Date() },
                watchLimits: WatchLimits = WatchLimits()) throws {
        try self.init(path: path, historyLimit: historyLimit, now: now, pageLimit: nil, watchLimits: watchLimits)
    }

    /// `pageLimit` caps the file at that many pages (`PRAGMA max_page_count`), which makes writes
    /// fail as on a full disk: tests use it to drive the failure path.
    package init(path: String, historyLimit: Int, now: @escaping @Sendable () -> Date, pageLimit: Int?,
                 watchLimits: WatchLimits = WatchLimits()) throws {
        let (writer, opened) = try EmbeddedWriter.start(path: path, historyLimit: historyLimit, now: now,
                                                        pageLimit: pageLimit)
        self.path = path
        self.tightenedFiles = opened.tightened
        self.writer = writer
        self.now = now
        self.working = opened.tree
        self.committed = opened.tree
        self.history = opened.history
        self.watchers = StoreWatchers(limits: watchLimits)
    }

    deinit {
        // Let the thread finish what is queued and close the file; nobody is left to wait for it.
        writer.close()
    }

    public func currentIndex() throws -> UInt64 {
        try checkOpen()
        return committed.index
    }

    public func supportsAttachedKeys() -> Bool { true }

    public func get(_ rawKey: String, recursive: Bool) async throws -> StoreNode {
        let key = try StoreKey.normalize(rawKey)
        try await expireDueKeys()
        guard committed.contains(key) else {
            throw StoreError.missing(key, index: committed.index) { [committed] in committed.entries[$0].map(\.isDirectory) }
        }
        return committed.node(key, depth: recursive ? Int.max : 1)
    }

    /// Applies `write` and returns once it is on disk.
    ///
    /// Cancelling the calling task does not cancel a write that was accepted: it still commits,
    /// and the call still reports how it ended.
    public func apply(_ write: StoreWrite) async throws -> StoreEvent {
        try write.validate()
        try checkWritable()
        let time = now()
        submitExpiries(at: time)
        let outcome: StoreTree.Outcome
        do throws(StoreError) {
            outcome = try working.apply(write, now: time)
        } catch {
            // A refusal decided against writes still on their way to disk must not be reported
            // before they are durable: the caller would re-read, not see them, and retry blindly.
            // It also reports the committed index, never a tentative one.
            await settleInFlight()
            var refusal = error
            refusal.index = committed.index
            throw refusal
        }
        wakeExpiryIfSooner()
        let isRefresh = if case .refresh = write { true } else { false }
        // A refresh is on disk like any write but is never published: it must not wake watchers.
        let ticket = submit(events: isRefresh ? [] : [outcome.event] + outcome.released)
        try await settle(ticket)
        return outcome.event
    }

    /// Removes every key whose TTL has run out, each with an `expire` event, and returns once
    /// that is on disk.
    public func expireDueKeys() async throws {
        try checkOpen()
        let time = now()
        if writer.fatalError == nil, let ticket = submitExpiries(at: time) {
            try await settle(ticket)
        }
        // Expiries submitted by another caller may still be on their way; wait for them rather
        // than show a key past its deadline.
        if committed.hasDueKeys(at: time) {
            await settleInFlight()
        }
    }

    /// Finishes every watch, waits for accepted writes to reach disk and closes the file, so the
    /// same path can be opened again. Later calls throw ``StoreError/Code/unavailable``.
    public func close() async {
        stopExpirySleep()
        guard !isClosed else {
            _ = await writer.close().result()
            return
        }
        isClosed = true
        finishAllWatchers()
        _ = await writer.close().result()
    }

    func checkOpen() throws(StoreError) {
        if isClosed { throw StoreError(.unavailable, "embedded store '\(path)' is closed", index: committed.index) }
    }

    func checkWritable() throws(StoreError) {
        try checkOpen()
        if var fatal = writer.fatalError {
            fatal.index = committed.index
            throw fatal
        }
    }
}
