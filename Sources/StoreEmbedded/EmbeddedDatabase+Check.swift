import CSQLite

extension EmbeddedDatabase {
    /// Checks that `connection` is a whole fleet store this fleet can open, and reads its index
    /// and key count: SQLite's full `integrity_check` (a backup or a restore reads every page
    /// once anyway), fleet's `application_id`, and a schema version from 1 to this fleet's.
    ///
    /// - Parameter name: how messages name the file (the path the user gave).
    static func check(_ connection: SQLiteConnection, name: String) throws(StoreRestoreError) -> (index: UInt64, keys: Int) {
        func read<T>(_ body: () throws(SQLiteError) -> T) throws(StoreRestoreError) -> T {
            do throws(SQLiteError) {
                return try body()
            } catch {
                switch error.primaryCode {
                case SQLITE_NOTADB, SQLITE_CORRUPT:
                    throw StoreRestoreError(.notAFleetStore, "'\(name)' is not a fleet store: \(error)")
                default:
                    throw StoreRestoreError(.fileSystem, "'\(name)' cannot be read: \(error)")
                }
            }
        }
        let problems = try read { () throws(SQLiteError) in try connection.texts("PRAGMA integrity_check(5)") }
        guard problems == ["ok"] else {
            throw StoreRestoreError(.damaged, "'\(name)' is damaged (\(problems.prefix(3).joined(separator: "; ")))")
        }
        let application = try read { () throws(SQLiteError) in try connection.integer("PRAGMA application_id") ?? 0 }
        guard application == applicationID else {
            throw StoreRestoreError(.notAFleetStore, "'\(name)' is an SQLite database but not a fleet store "
                                    + "(application_id \(application))")
        }
        let version = try read { () throws(SQLiteError) in try connection.integer("PRAGMA user_version") ?? 0 }
        guard version <= schemaVersion else {
            throw StoreRestoreError(.newerSchema, "'\(name)' has schema version \(version), newer than this "
                                    + "fleetd understands (\(schemaVersion)); restore it with a newer fleetd")
        }
        let tables = Set(try read { () throws(SQLiteError) in
            try connection.texts("SELECT name FROM sqlite_schema WHERE type = 'table'")
        })
        guard version >= 1, tables.isSuperset(of: ["meta", "nodes", "events"]) else {
            throw StoreRestoreError(.notAFleetStore, "'\(name)' is not a complete fleet store (schema version "
                                    + "\(version), tables: \(tables.sorted().joined(separator: ", ")))")
        }
        let index = try read { () throws(SQLiteError) in
            try connection.integer("SELECT value FROM meta WHERE name = 'index'") ?? 0
        }
        let keys = try read { () throws(SQLiteError) in
            try connection.integer("SELECT count(*) FROM nodes WHERE value IS NOT NULL") ?? 0
        }
        return (UInt64(bitPattern: index), Int(clamping: keys))
    }
}
