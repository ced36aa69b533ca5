import FleetStore

extension EmbeddedStore {
    /// Writes a consistent copy of the store to `path` while it keeps serving (SQLite's online
    /// backup API on the writer's own connection, so the file is locked to everyone else and
    /// this is the only way to copy it while fleetd runs).
    ///
    /// The copy holds every write acknowledged before the call. Writes made meanwhile wait for
    /// the copy (milliseconds to a second for fleet's data), they are not refused. `path` appears
    /// only when complete and checked (owner-only, flushed); see ``EmbeddedDatabase/backup(to:)``.
    /// - Returns: what the copy holds, read back from it.
    /// - Throws: ``StoreRestoreError`` when the file cannot be written; ``StoreError`` when the
    ///   store is closed.
    public func backup(to path: String) async throws -> StoreBackupFacts {
        try checkOpen()
        return try await writer.perform { database in try database.backup(to: path) }.result().get()
    }
}
