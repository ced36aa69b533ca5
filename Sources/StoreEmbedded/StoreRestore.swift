import CSQLite
import FleetStore
import Foundation
import Glibc

/// `fleetd restore FILE`: puts a backup (``EmbeddedStore/backup(to:)``) in place of a stopped
/// fleetd's `store.db`, keeping the store it replaces beside it.
///
/// The restored store's index jumps past both the backup's and the replaced store's (by
/// ``indexBump``) and its watch history is cleared through that index: every other machine
/// follows the store from an index it saw before, higher than the backup's; without the jump
/// their watches would wait for indexes the restored store reaches only much later and miss
/// everything until then. With it, each such watch gets "index cleared" and its follower reads
/// the store afresh (etcd's `snapshot restore --bump-revision --mark-compacted` for the same
/// reason).
public enum StoreRestore {
    /// How far past the known indexes the restored store starts: more than the writes a
    /// cluster makes between a backup and its restore (a thousand a second for 11 days) when the
    /// replaced store is lost and the other machines' positions are unknown.
    public static let indexBump: UInt64 = 1_000_000_000

    /// What a restore did.
    public struct Outcome: Sendable, Equatable {
        /// What the installed store holds (its index already bumped).
        public var installed: StoreBackupFacts
        /// The index the backup itself had.
        public var backupIndex: UInt64
        /// Where the replaced `store.db` went (nil when there was none).
        public var movedAside: String?
    }

    /// Installs `file` as the store at `storePath` (`<data-dir>/store.db`).
    ///
    /// Refuses, changing nothing, when the current store is held by another process (a running
    /// fleetd: its exclusive lock makes `BEGIN IMMEDIATE` fail at once) or when `file` is not a
    /// sound fleet store this fleet can open. The current store, with its `-wal` and `-shm` if
    /// any, is renamed to `store.db.before-restore-<UTC time>`.
    public static func restore(from file: String, to storePath: String, now: Date = Date()) throws(StoreRestoreError) -> Outcome {
        guard access(file, R_OK) == 0 else { throw .fileSystem("cannot read '\(file)'", errno) }
        let replacedIndex = try currentIndex(storePath)
        let partial = storePath + ".restore.partial"
        DurableFile.remove(partial)
        try DurableFile.createPrivate(partial)
        do throws(StoreRestoreError) {
            try copy(file, to: partial)
            let backupIndex = try prepare(partial, name: file, replacedIndex: replacedIndex)
            try DurableFile.sync(partial)
            // Checked again just before the swap: a fleetd started meanwhile must keep its store.
            _ = try currentIndex(storePath)
            let aside = try moveAside(storePath, now: now)
            try DurableFile.rename(partial, to: storePath)
            let facts = try facts(of: storePath)
            return Outcome(installed: facts, backupIndex: backupIndex, movedAside: aside)
        } catch {
            DurableFile.remove(partial)
            DurableFile.remove(partial + "-journal")
            throw error
        }
    }

    /// The index of the store at `path` (0 when there is none or it is unreadable), after
    /// making sure no other process holds it.
    ///
    /// Opening it also folds a `-wal` left by a fleetd that was killed into the file, so the
    /// store moved aside is one complete file.
    static func currentIndex(_ path: String) throws(StoreRestoreError) -> UInt64 {
        guard access(path, F_OK) == 0 else { return 0 }
        let connection: SQLiteConnection
        do {
            connection = try SQLiteConnection(path: path, create: false)
        } catch {
            return 0  // unreadable: nothing holds it usefully, and it is moved aside all the same
        }
        defer { connection.close() }
        do throws(SQLiteError) {
            try connection.execute("PRAGMA busy_timeout = 0")
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            if error.primaryCode == SQLITE_BUSY || error.primaryCode == SQLITE_LOCKED {
                throw StoreRestoreError(.inUse, "the store '\(path)' is in use by another process (a running fleetd?); "
                                        + "stop fleetd first (systemctl stop fleetd), then restore")
            }
            return 0  // damaged: it is moved aside, as its own error message advises
        }
        let index = (try? connection.integer("SELECT value FROM meta WHERE name = 'index'")) ?? nil
        try? connection.execute("ROLLBACK")
        return index.map { UInt64(bitPattern: $0) } ?? 0
    }

    /// Copies `file` byte for byte into the (empty, owner-only) `destination` and flushes it.
    static func copy(_ file: String, to destination: String) throws(StoreRestoreError) {
        let input = open(file, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .fileSystem("cannot read '\(file)'", errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard output >= 0 else { throw .fileSystem("cannot write '\(destination)'", errno) }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .fileSystem("cannot read '\(file)'", errno)
            }
            if count == 0 { break }
            var written = 0
            while written < count {
                let step = buffer.withUnsafeBytes { bytes in
                    bytes.baseAddress.map { write(output, $0 + written, count - written) } ?? -1
                }
                if step < 0 {
                    if errno == EINTR { continue }
                    throw .fileSystem("cannot write '\(destination)'", errno)
                }
                written += step
            }
        }
    }

    /// Checks the copy at `path` and readies it to be the store: index bumped, history cleared,
    /// one self-contained file. Returns the backup's own index.
    static func prepare(_ path: String, name: String, replacedIndex: UInt64) throws(StoreRestoreError) -> UInt64 {
        let connection = try openExisting(path, or: .notAFleetStore, "'\(name)' cannot be opened as a database")
        defer { connection.close() }
        let (index, _) = try EmbeddedDatabase.check(connection, name: name)
        let (sum, overflow) = max(index, replacedIndex).addingReportingOverflow(indexBump)
        let bumped = overflow ? max(index, replacedIndex) : sum
        do throws(SQLiteError) {
            _ = try connection.texts("PRAGMA journal_mode = DELETE")
            try connection.execute("BEGIN IMMEDIATE")
            try connection.execute("UPDATE meta SET value = ?1 WHERE name = 'index'", [.index(bumped)])
            try connection.execute("DELETE FROM events")
            try connection.execute("INSERT OR REPLACE INTO meta VALUES ('history_cleared_through', ?1)", [.index(bumped)])
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw StoreRestoreError(.fileSystem, "cannot prepare '\(path)': \(error)")
        }
        return index
    }

    /// Renames the store at `path` and its `-wal`/`-shm` to `<path>.before-restore-<UTC time>`
    /// (with `-2`, `-3`, ... if that is taken). Returns the new name, or nil when there was no store.
    static func moveAside(_ path: String, now: Date) throws(StoreRestoreError) -> String? {
        guard access(path, F_OK) == 0 else { return nil }
        let stamp = timestamp(now)
        var aside = "\(path).before-restore-\(stamp)"
        var attempt = 1
        while access(aside, F_OK) == 0 || access(aside + "-wal", F_OK) == 0 {
            attempt += 1
            guard attempt <= 100 else { throw StoreRestoreError(.fileSystem, "cannot find a free name for '\(aside)'") }
            aside = "\(path).before-restore-\(stamp)-\(attempt)"
        }
        // The -wal first: a store without its -wal is older, a -wal without its store is nothing.
        for suffix in ["-wal", "-shm"] where access(path + suffix, F_OK) == 0 {
            try DurableFile.rename(path + suffix, to: aside + suffix)
        }
        try DurableFile.rename(path, to: aside)
        return aside
    }

    /// `20261205T101502Z`: sortable, and free of characters a shell or a file system minds.
    static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// What the store at `path` holds.
    static func facts(of path: String) throws(StoreRestoreError) -> StoreBackupFacts {
        let connection = try openExisting(path, or: .fileSystem, "cannot open the restored store '\(path)'")
        defer { connection.close() }
        let (index, keys) = try EmbeddedDatabase.check(connection, name: path)
        return StoreBackupFacts(path: path, bytes: DurableFile.size(path), index: index, keys: keys)
    }

    /// Opens the existing database at `path`, or fails with `code` and `message` plus SQLite's reason.
    static func openExisting(_ path: String, or code: StoreRestoreError.Code, _ message: String) throws(StoreRestoreError) -> SQLiteConnection {
        do {
            return try SQLiteConnection(path: path, create: false)
        } catch {
            throw StoreRestoreError(code, "\(message): \(error)")
        }
    }
}
