import CSQLite
import FleetStore
import Foundation

/// fleet's schema on one SQLite file: opening it safely, reading the whole store back, and
/// writing a batch of commits as one transaction. Used only on the store's writer thread.
///
/// Tables:
/// * `meta(name, value)`: `index` (the global index, so it never goes backwards even when the
///   latest changes were deletes or expiries) and `history_cleared_through`.
/// * `nodes(key, value, created_index, modified_index, expiration)`: the tree; a NULL value is a
///   directory; `expiration` is an absolute deadline, so a TTL keeps running while fleetd is down.
/// * `events(idx, ...)`: the recent watch history (at most twice the limit), so a watch from an
///   index before a restart still replays what it missed.
final class EmbeddedDatabase {
    /// `PRAGMA application_id` of a fleet store ("flst"), so a different SQLite file is refused.
    static let applicationID: Int64 = 0x666C_7374
    /// 1: the first; 2: `nodes.owner` (attached keys). An older file is brought forward when opened.
    static let schemaVersion: Int64 = 2

    let path: String
    let historyLimit: Int
    let connection: SQLiteConnection
    /// Rows in `events`, kept here so trimming needs no COUNT(*) per commit.
    private var storedEvents = 0

    /// Opens (creating if needed) the store at `path` and takes its lock.
    ///
    /// - Parameter pageLimit: for tests, a cap on the file's size in pages, to simulate a full disk.
    /// - Throws: ``StoreError/Code/unavailable`` naming `path` and the way out.
    init(path: String, historyLimit: Int, pageLimit: Int? = nil) throws(StoreError) {
        self.path = path
        self.historyLimit = max(1, historyLimit)
        do {
            connection = try SQLiteConnection(path: path)
        } catch {
            throw Self.openError(path, error)
        }
        do {
            try configure(pageLimit: pageLimit)
        } catch {
            connection.close()
            throw error
        }
    }

    private func configure(pageLimit: Int?) throws(StoreError) {
        do {
            if let pageLimit { try connection.execute("PRAGMA max_page_count = \(pageLimit)") }
            // Wait a little for a lock, so a fleetd that is just exiting can let go of the file.
            try connection.execute("PRAGMA busy_timeout = 1000")
            // One process owns the store: in EXCLUSIVE mode SQLite keeps the file locked from the
            // first write until close, so a second fleetd on the same file fails at once instead of
            // running a diverging copy. With WAL it also keeps the WAL index in process memory.
            try connection.execute("PRAGMA locking_mode = EXCLUSIVE")
            let mode = try connection.texts("PRAGMA journal_mode = WAL")
            guard mode.first?.lowercased() == "wal" else {
                throw StoreError(.unavailable, "embedded store '\(path)': the file system refused WAL mode "
                                 + "(journal_mode is \(mode.first ?? "unknown")); put the store on a local disk")
            }
            // FULL: fsync the WAL at every commit, so an acknowledged write survives power loss,
            // not only a crash of the process.
            try connection.execute("PRAGMA synchronous = FULL")
            // Stop an unbounded WAL after a long burst: truncate it back once checkpointed.
            try connection.execute("PRAGMA journal_size_limit = 67108864")
            try checkIntegrity()
            try connection.execute("BEGIN IMMEDIATE")
            try createSchema()
            try connection.execute("COMMIT")
        } catch let error as SQLiteError {
            try? connection.execute("ROLLBACK")
            throw Self.openError(path, error)
        } catch let error as StoreError {
            try? connection.execute("ROLLBACK")
            throw error
        } catch {
            throw StoreError(.unavailable, "embedded store '\(path)': \(error)")
        }
    }

    /// `quick_check` reads every page once (milliseconds for a store of fleet's size), so a
    /// damaged file is refused at start-up with a clear message instead of failing a write later.
    private func checkIntegrity() throws {
        let problems = try connection.texts("PRAGMA quick_check")
        guard problems == ["ok"] else {
            throw StoreError(.unavailable, "embedded store '\(path)' is corrupt (\(problems.prefix(3).joined(separator: "; ")))"
                             + "; move the file aside to start an empty store, or restore it from a backup")
        }
    }

    private func createSchema() throws {
        let applicationID = try connection.integer("PRAGMA application_id") ?? 0
        let version = try connection.integer("PRAGMA user_version") ?? 0
        let tables = try connection.texts("SELECT name FROM sqlite_schema WHERE type = 'table'")
        if applicationID != Self.applicationID {
            guard applicationID == 0, tables.isEmpty else {
                throw StoreError(.unavailable, "'\(path)' is an SQLite database but not a fleet store "
                                 + "(application_id \(applicationID)); point the store at another file")
            }
            try connection.execute("PRAGMA application_id = \(Self.applicationID)")
        }
        guard version <= Self.schemaVersion else {
            throw StoreError(.unavailable, "embedded store '\(path)' has schema version \(version), newer than "
                             + "this fleet understands (\(Self.schemaVersion)); run a newer fleetd")
        }
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID
            """)
        try connection.execute("INSERT OR IGNORE INTO meta VALUES ('index', 0), ('history_cleared_through', 0)")
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS nodes (
                key TEXT PRIMARY KEY, value TEXT,
                created_index INTEGER NOT NULL, modified_index INTEGER NOT NULL, expiration REAL, owner TEXT
            ) WITHOUT ROWID
            """)
        // Schema 1 had no owner column; adding one is a change to the schema alone, no row rewritten.
        if try !connection.texts("SELECT name FROM pragma_table_info('nodes')").contains("owner") {
            try connection.execute("ALTER TABLE nodes ADD COLUMN owner TEXT")
        }
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS events (
                idx INTEGER PRIMARY KEY, action TEXT NOT NULL, key TEXT NOT NULL, is_dir INTEGER NOT NULL,
                value TEXT, created_index INTEGER NOT NULL, expiration REAL,
                prev_is_dir INTEGER, prev_value TEXT, prev_created_index INTEGER,
                prev_modified_index INTEGER, prev_expiration REAL
            )
            """)
        try connection.execute("PRAGMA user_version = \(Self.schemaVersion)")
    }

    func close() {
        connection.close()
    }

    // MARK: Reading the store back

    /// The whole tree and the persisted watch history.
    func load() throws(StoreError) -> (tree: StoreTree, history: EventHistory) {
        do {
            let index = UInt64(bitPattern: try connection.integer("SELECT value FROM meta WHERE name = 'index'") ?? 0)
            let cleared = UInt64(bitPattern: try connection.integer(
                "SELECT value FROM meta WHERE name = 'history_cleared_through'") ?? 0)
            var rows: [(key: String, entry: StoreTree.Entry)] = []
            try connection.query("SELECT key, value, created_index, modified_index, expiration, owner FROM nodes") { row in
                rows.append((row.text(0) ?? "", StoreTree.Entry(value: row.text(1), createdIndex: row.index(2),
                                                                    modifiedIndex: row.index(3), expiration: row.date(4),
                                                                    owner: row.text(5))))
            }
            var events: [StoreEvent] = []
            try connection.query("""
                SELECT idx, action, key, is_dir, value, created_index, expiration, prev_is_dir, prev_value,
                       prev_created_index, prev_modified_index, prev_expiration
                FROM events ORDER BY idx
                """) { row throws(SQLiteError) in
                let key = row.text(2) ?? ""
                guard let action = StoreAction(rawValue: row.text(1) ?? "") else {
                    throw SQLiteError(call: "load events", code: SQLITE_CORRUPT,
                                      message: "event \(row.index(0)) has an unknown action", path: path)
                }
                let node = StoreNode(key: key, value: row.text(4), isDirectory: row.integer(3) != 0,
                                     createdIndex: row.index(5), modifiedIndex: row.index(0), expiration: row.date(6))
                let prev = row.isNull(9) ? nil
                    : StoreNode(key: key, value: row.text(8), isDirectory: row.integer(7) != 0,
                                createdIndex: row.index(9), modifiedIndex: row.index(10), expiration: row.date(11))
                events.append(StoreEvent(action: action, node: node, prevNode: prev))
            }
            storedEvents = events.count
            let tree: StoreTree
            do {
                tree = try StoreTree(restoring: rows, index: max(index, events.last?.index ?? 0))
            } catch {
                throw StoreError(.unavailable, "embedded store '\(path)' is inconsistent (\(error)); move the file "
                                 + "aside to start an empty store, or restore it from a backup")
            }
            return (tree, EventHistory(limit: historyLimit, clearedThrough: cleared, events: events))
        } catch let error as SQLiteError {
            throw Self.openError(path, error)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.unavailable, "embedded store '\(path)': \(error)")
        }
    }

    // MARK: Writing

    /// Writes `commits` in one transaction (group commit: one fsync for all of them).
    ///
    /// Either every commit is on disk when this returns, or none is and it throws.
    func write(_ commits: [EmbeddedCommit]) throws(SQLiteError) {
        guard let last = commits.last else { return }
        var events = storedEvents
        do throws(SQLiteError) {
            try connection.execute("BEGIN IMMEDIATE")
            for commit in commits {
                for change in commit.changes {
                    switch change {
                    case let .put(key, entry):
                        try connection.execute("""
                            INSERT OR REPLACE INTO nodes (key, value, created_index, modified_index, expiration, owner)
                            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                            """, [.text(key), .optionalText(entry.value), .index(entry.createdIndex),
                                  .index(entry.modifiedIndex), .date(entry.expiration), .optionalText(entry.owner)])
                    case let .removeSubtree(key):
                        // Everything below `key` sorts in ["key/", "key0"): '0' follows '/' in ASCII,
                        // and keys compare bytewise (BINARY), so this is one index range scan.
                        try connection.execute("DELETE FROM nodes WHERE key = ?1 OR (key >= ?1 || '/' AND key < ?1 || '0')",
                                               [.text(key)])
                    }
                }
                for event in commit.events {
                    try insert(event)
                    events += 1
                }
            }
            try connection.execute("UPDATE meta SET value = ?1 WHERE name = 'index'", [.index(last.index)])
            if events > historyLimit * 2 {
                events = try trimHistory()
            }
            try connection.execute("COMMIT")
            storedEvents = events
        } catch {
            // A failed COMMIT can leave the transaction open; end it so the next batch starts clean.
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private func insert(_ event: StoreEvent) throws(SQLiteError) {
        let node = event.node, prev = event.prevNode
        try connection.execute("""
            INSERT OR REPLACE INTO events (idx, action, key, is_dir, value, created_index, expiration,
                prev_is_dir, prev_value, prev_created_index, prev_modified_index, prev_expiration)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
            """, [.index(node.modifiedIndex), .text(event.action.rawValue), .text(node.key),
                  .integer(node.isDirectory ? 1 : 0), .optionalText(node.value), .index(node.createdIndex),
                  .date(node.expiration),
                  prev.map { .integer($0.isDirectory ? 1 : 0) } ?? .null, .optionalText(prev?.value),
                  prev.map { .index($0.createdIndex) } ?? .null, prev.map { .index($0.modifiedIndex) } ?? .null,
                  .date(prev?.expiration)])
    }

    /// Keeps the newest `historyLimit` events and records the index of the newest one dropped,
    /// the same window ``EventHistory`` keeps in memory. Returns the rows left.
    private func trimHistory() throws(SQLiteError) -> Int {
        guard let cut = try connection.integer("SELECT idx FROM events ORDER BY idx DESC LIMIT 1 OFFSET ?1",
                                               [.integer(Int64(historyLimit))]) else { return storedEvents }
        try connection.execute("DELETE FROM events WHERE idx <= ?1", [.integer(cut)])
        try connection.execute("UPDATE meta SET value = ?1 WHERE name = 'history_cleared_through'", [.integer(cut)])
        return historyLimit
    }

    // MARK: Errors

    /// A ``StoreError`` for a file that cannot be used, naming it and saying what to do.
    static func openError(_ path: String, _ error: SQLiteError) -> StoreError {
        let advice: String
        switch error.primaryCode {
        case SQLITE_NOTADB, SQLITE_CORRUPT:
            advice = "the file is damaged or not a database; move it aside to start an empty store, or restore a backup"
        case SQLITE_CANTOPEN:
            advice = "check that the directory exists and that fleetd may create files in it"
        case SQLITE_BUSY, SQLITE_LOCKED:
            advice = "another process (a second fleetd?) has the store open; stop it or use another path"
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH:
            advice = "the file or its directory is read-only; make both writable by fleetd"
        case SQLITE_FULL:
            advice = "the disk is full; free space and restart"
        case SQLITE_IOERR:
            advice = "the disk reported an I/O error; check the device (dmesg) before trusting this file"
        default:
            advice = "see SQLite's message above"
        }
        return StoreError(.unavailable, "embedded store '\(path)' cannot be opened: \(error); \(advice)")
    }

    /// A ``StoreError`` for a batch that did not commit.
    static func commitError(_ path: String, _ error: SQLiteError) -> StoreError {
        let consequence = error.isFatal
            ? "the store stopped accepting writes; restart fleetd once the disk is healthy"
            : "nothing of this write was stored; retry"
        return StoreError(.unavailable, "embedded store '\(path)' could not commit: \(error); \(consequence)")
    }
}

@available(*, unavailable)
extension EmbeddedDatabase: Sendable {}
