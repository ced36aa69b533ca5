import FleetStore
import Foundation

extension EmbeddedDatabase {
    /// Copies the store into `path` with SQLite's online backup API, from this (the writer's)
    /// connection between two transactions, so the copy is exactly the store as of its last
    /// commit. The copy goes to `path.partial` (0600), is made one self-contained file
    /// (`journal_mode = DELETE`: no `-wal` to forget), passes ``check(_:name:)``, is flushed
    /// and only then renamed to `path`. A failure leaves no partial file behind.
    func backup(to path: String) throws(StoreRestoreError) -> StoreBackupFacts {
        let partial = path + ".partial"
        DurableFile.remove(partial)  // left by a backup interrupted by a crash
        try DurableFile.createPrivate(partial)
        do throws(StoreRestoreError) {
            let contents: (index: UInt64, keys: Int)
            do {
                let copy = try SQLiteConnection(path: partial, create: false)
                defer { copy.close() }
                do throws(SQLiteError) {
                    try connection.backup(into: copy)
                    _ = try copy.texts("PRAGMA journal_mode = DELETE")
                } catch {
                    throw StoreRestoreError(.fileSystem, "the backup to '\(partial)' failed: \(error)")
                }
                contents = try Self.check(copy, name: partial)
            } catch let error as SQLiteError {
                throw StoreRestoreError(.fileSystem, "cannot open '\(partial)': \(error)")
            } catch let error as StoreRestoreError {
                throw error
            } catch {
                throw StoreRestoreError(.fileSystem, "the backup to '\(partial)' failed: \(error)")
            }
            try DurableFile.sync(partial)
            try DurableFile.rename(partial, to: path)
            return StoreBackupFacts(path: path, bytes: DurableFile.size(path), index: contents.index, keys: contents.keys)
        } catch {
            DurableFile.remove(partial)
            DurableFile.remove(partial + "-journal")
            throw error
        }
    }
}
