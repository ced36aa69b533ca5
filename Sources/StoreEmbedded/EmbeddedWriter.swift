import Dispatch
import FleetStore
import Foundation
import Synchronization

/// One accepted write (or batch of expiries) on its way to disk.
struct EmbeddedCommit: Sendable {
    /// The store's generation when the write was decided; see ``EmbeddedWriter``.
    var generation: UInt64
    var changes: [StoreTree.Change]
    /// The global index after this commit.
    var index: UInt64
    /// What watchers hear once it is on disk (empty for a refresh).
    var events: [StoreEvent]
    /// Completed by the writer thread, in submission order, once the commit is durable or has failed.
    var ticket: StorePromise<Void>
}

/// The store's own thread for SQLite: it owns the connection, so no SQLite call (and no fsync)
/// ever runs on the Swift cooperative pool, and callers simply await their ticket.
///
/// Group commit: the thread takes everything queued at once and writes it as one transaction,
/// so while one fsync is in progress the next batch fills up. One client pays one fsync per
/// write; 64 clients share each fsync.
///
/// Failure: if a batch does not commit, every later commit decided before the store noticed is
/// built on writes that are not on disk. Commits carry the store's generation; the thread
/// remembers the highest generation that failed and fails such commits without running them,
/// and the store starts a new generation from its committed state. An error that means the disk
/// itself is in trouble (``SQLiteError/isFatal``) stops all writing for good.
final class EmbeddedWriter: Sendable {
    private struct Queue {
        var commits: [EmbeddedCommit] = []
        /// Work on the database between two batches (a backup), run after the commits queued
        /// before it.
        var jobs: [@Sendable (EmbeddedDatabase) -> Void] = []
        /// The thread is (about to be) parked on `wakeUp`; the next submitter must signal it.
        var sleeping = false
        var closing: StorePromise<Void>?
        var failedGeneration: UInt64?
        var fatal: StoreError?
    }

    let path: String
    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)

    private init(path: String) {
        self.path = path
    }

    /// What the thread read from disk at start-up.
    struct Opened: Sendable {
        var tree: StoreTree
        var history: EventHistory
        /// Files whose permissions were tightened on opening (``StoreFileModes``).
        var tightened: [StoreFileModes.Change] = []
    }

    /// Starts the writer thread, which opens and loads the database, expires keys whose TTL ran
    /// out while the store was closed (as one commit, with `expire` events), and reports back.
    ///
    /// Blocks the caller until then, because ``EmbeddedStore``'s initialiser is synchronous.
    static func start(path: String, historyLimit: Int, now: @escaping @Sendable () -> Date,
                      pageLimit: Int? = nil) throws -> (EmbeddedWriter, Opened) {
        let writer = EmbeddedWriter(path: path)
        let opened = StorePromise<Opened>()
        let thread = Thread {
            writer.main(historyLimit: historyLimit, pageLimit: pageLimit, now: now, opened: opened)
        }
        thread.name = "fleet-store-sqlite"
        thread.start()
        return (writer, try opened.blockingResult().get())
    }

    /// Queues `commit`; its ticket completes once it is on disk or has failed.
    func submit(_ commit: EmbeddedCommit) {
        let (wake, refusal): (Bool, StoreError?) = queue.withLock { queue in
            if queue.closing != nil {
                return (false, StoreError(.unavailable, "embedded store '\(path)' is closed"))
            }
            queue.commits.append(commit)
            defer { queue.sleeping = false }
            return (queue.sleeping, nil)
        }
        if let refusal { commit.ticket.fail(refusal) }
        if wake { wakeUp.signal() }
    }

    /// Runs `job` on the writer thread with the database between two batches, after every
    /// commit queued before it (and any that joined the same batch): the database is then
    /// exactly the store as of its last commit. Writes wait while it runs. The promise fails if the store is closing.
    func perform<Value: Sendable>(_ job: @escaping @Sendable (EmbeddedDatabase) throws -> Value) -> StorePromise<Value> {
        let promise = StorePromise<Value>()
        let wake: Bool? = queue.withLock { queue in
            if queue.closing != nil { return nil }
            queue.jobs.append { database in promise.complete(Result { try job(database) }) }
            defer { queue.sleeping = false }
            return queue.sleeping
        }
        guard let wake else {
            promise.fail(StoreError(.unavailable, "embedded store '\(path)' is closed"))
            return promise
        }
        if wake { wakeUp.signal() }
        return promise
    }

    /// Finishes what is queued, closes the database and ends the thread; the promise completes then.
    @discardableResult
    func close() -> StorePromise<Void> {
        let (promise, wake): (StorePromise<Void>, Bool) = queue.withLock { queue in
            if let closing = queue.closing { return (closing, false) }
            let closing = StorePromise<Void>()
            queue.closing = closing
            defer { queue.sleeping = false }
            return (closing, queue.sleeping)
        }
        if wake { wakeUp.signal() }
        return promise
    }

    /// The error that stopped all writing, if one did.
    var fatalError: StoreError? { queue.withLock { $0.fatal } }

    // MARK: The thread

    private func main(historyLimit: Int, pageLimit: Int?, now: @escaping @Sendable () -> Date,
                      opened: StorePromise<Opened>) {
        let database: EmbeddedDatabase
        let tightened = StoreFileModes.secureDatabase(at: path)
        do {
            database = try EmbeddedDatabase(path: path, historyLimit: historyLimit, pageLimit: pageLimit)
        } catch {
            opened.fail(error)
            return
        }
        do {
            var (tree, history) = try database.load()
            let expired = tree.expireDueKeys(at: now())
            let changes = tree.takeChanges()
            if !changes.isEmpty {
                do throws(SQLiteError) {
                    try database.write([EmbeddedCommit(generation: 0, changes: changes, index: tree.index,
                                                       events: expired, ticket: StorePromise())])
                } catch {
                    throw EmbeddedDatabase.openError(path, error)
                }
                for event in expired { history.append(event) }
            }
            opened.succeed(Opened(tree: tree, history: history, tightened: tightened))
        } catch {
            database.close()
            opened.fail(error)
            return
        }
        while true {
            let next: (commits: [EmbeddedCommit], jobs: [@Sendable (EmbeddedDatabase) -> Void],
                       closing: StorePromise<Void>?)? = queue.withLock { queue in
                if !queue.commits.isEmpty || !queue.jobs.isEmpty {
                    defer { queue.commits = []; queue.jobs = [] }
                    return (queue.commits, queue.jobs, nil)
                }
                if let closing = queue.closing { return ([], [], closing) }
                queue.sleeping = true
                return nil
            }
            guard let next else {
                wakeUp.wait()
                continue
            }
            if let closing = next.closing {
                database.close()
                closing.succeed(())
                return
            }
            // Commits first: a job was queued after every commit it might hold.
            write(next.commits, to: database)
            for job in next.jobs { job(database) }
        }
    }

    private func write(_ commits: [EmbeddedCommit], to database: EmbeddedDatabase) {
        let (failedGeneration, fatal) = queue.withLock { ($0.failedGeneration, $0.fatal) }
        if let fatal {
            for commit in commits { commit.ticket.fail(fatal) }
            return
        }
        // Commits of a failed generation were decided on writes that never reached disk. The
        // generation only grows in submission order, so they are a prefix of the batch.
        let stale = commits.prefix { commit in failedGeneration.map { commit.generation <= $0 } ?? false }
        let runnable = Array(commits.dropFirst(stale.count))
        for commit in stale {
            commit.ticket.fail(StoreError(.unavailable, "embedded store '\(path)': an earlier write this one "
                                          + "depended on failed to commit; nothing of it was stored; retry"))
        }
        var written = 0
        var failure: SQLiteError?
        do throws(SQLiteError) {
            try database.write(runnable)
            written = runnable.count
        } catch {
            failure = error
        }
        if let error = failure, !error.isFatal, runnable.count > 1 {
            // One big commit may not fit where smaller ones still do (a full disk): retry one by
            // one, so only the commit that fails, and those decided after it, fail.
            failure = nil
            for commit in runnable {
                do throws(SQLiteError) {
                    try database.write([commit])
                    written += 1
                } catch {
                    failure = error
                    break
                }
            }
        }
        // In submission order: the store relies on completed tickets forming a prefix.
        for commit in runnable.prefix(written) { commit.ticket.succeed(()) }
        guard let failure else { return }
        let storeError = EmbeddedDatabase.commitError(path, failure)
        queue.withLock { queue in
            queue.failedGeneration = max(queue.failedGeneration ?? 0, runnable.map(\.generation).max() ?? 0)
            if failure.isFatal { queue.fatal = storeError }
        }
        let first = runnable[written]
        first.ticket.fail(storeError)
        for commit in runnable.dropFirst(written + 1) {
            commit.ticket.fail(StoreError(.unavailable, "embedded store '\(path)': an earlier write this one "
                                          + "depended on failed to commit (\(failure)); nothing of it was stored; retry"))
        }
    }
}
