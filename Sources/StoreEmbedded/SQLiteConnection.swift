import CSQLite
import FleetStore
import Foundation

/// A value SQLite stores or returns. Indexes travel as `Int64` bit patterns (see ``SQLiteValue/index(_:)``).
enum SQLiteValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    /// A store index. SQLite integers are signed 64-bit; the bit pattern round-trips every `UInt64`.
    static func index(_ value: UInt64) -> SQLiteValue { .integer(Int64(bitPattern: value)) }

    /// An absolute deadline. `timeIntervalSinceReferenceDate` is what `Date` holds, so the `Double`
    /// round-trips exactly (going through `timeIntervalSince1970` would add a rounding step).
    static func date(_ value: Date?) -> SQLiteValue { value.map { .real($0.timeIntervalSinceReferenceDate) } ?? .null }

    static func optionalText(_ value: String?) -> SQLiteValue { value.map(SQLiteValue.text) ?? .null }
}

/// A failed SQLite call: which call, on which database file, SQLite's extended code and message.
struct SQLiteError: Error, CustomStringConvertible {
    /// The C function or SQL statement that failed.
    var call: String
    /// SQLite's extended result code (`SQLITE_IOERR_FSYNC`, ...).
    var code: Int32
    var message: String
    var path: String

    /// The primary result code (`SQLITE_IOERR` for `SQLITE_IOERR_FSYNC`).
    var primaryCode: Int32 { code & 0xFF }

    /// True when retrying cannot help because the file or the disk under it is at fault. A full
    /// disk or a busy lock may clear up; an I/O error, corruption or a vanished file do not, and
    /// after a failed fsync the state on disk is not even known, so the store must stop writing.
    var isFatal: Bool {
        ![SQLITE_FULL, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_INTERRUPT].contains(primaryCode)
    }

    var description: String { "\(message) (SQLite code \(code) in \(call))" }
}

/// One SQLite database connection, used by exactly one thread (the store's writer thread).
///
/// The connection is opened with `SQLITE_OPEN_NOMUTEX`: it is never shared, so SQLite's own
/// per-connection mutex would only cost time. Prepared statements are cached by their SQL text
/// because the store runs the same handful of statements for every write.
final class SQLiteConnection {
    let path: String
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// - Parameter create: create the file if it is missing (the store does; a restore's
    ///   checks never do, so a mistyped name is not taken for an empty database).
    init(path: String, create: Bool = true) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(call: "sqlite3_open_v2", code: rc, message: message, path: path)
        }
        handle = db
    }

    deinit { close() }

    /// Finalizes every cached statement and closes the file; with WAL this also checkpoints
    /// and removes the `-wal` file. Safe to call twice.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs `sql` (one statement) with `values` bound to `?1`, `?2`, ... and discards any rows.
    func execute(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) {
        try query(sql, values) { _ in }
    }

    /// Runs `sql` with `values` bound and calls `row` for each result row.
    func query(_ sql: String, _ values: [SQLiteValue] = [],
               row: (SQLiteRow) throws(SQLiteError) -> Void) throws(SQLiteError) {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1), in: statement, sql: sql)
        }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc, sql) }
            try row(SQLiteRow(statement: statement))
        }
    }

    /// The first column of the first row of `sql`, as an integer (nil when there is no row or it is NULL).
    func integer(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int64? {
        var result: Int64?
        try query(sql, values) { row in
            if result == nil, !row.isNull(0) { result = row.integer(0) }
        }
        return result
    }

    /// The first column of every row of `sql`, as text.
    func texts(_ sql: String) throws(SQLiteError) -> [String] {
        var result: [String] = []
        try query(sql) { row in result.append(row.text(0) ?? "") }
        return result
    }

    /// Copies this whole database into `destination` with SQLite's online backup API, in one
    /// step: the copy is this connection's view between two transactions, and nothing else
    /// uses the connection meanwhile (both run on the caller's thread).
    func backup(into destination: SQLiteConnection) throws(SQLiteError) {
        guard let handle, let target = destination.handle else {
            throw SQLiteError(call: "sqlite3_backup_init", code: SQLITE_MISUSE, message: "the database is closed", path: path)
        }
        guard let backup = sqlite3_backup_init(target, "main", handle, "main") else {
            throw destination.error(sqlite3_errcode(target), "sqlite3_backup_init")
        }
        let step = sqlite3_backup_step(backup, -1)
        // finish reports the step's error too, and must run whatever the step did.
        let finish = sqlite3_backup_finish(backup)
        guard step == SQLITE_DONE, finish == SQLITE_OK else {
            throw destination.error(finish == SQLITE_OK ? step : finish, "sqlite3_backup_step")
        }
    }

    private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        guard let handle else {
            throw SQLiteError(call: sql, code: SQLITE_MISUSE, message: "the database is closed", path: path)
        }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, sql) }
        statements[sql] = statement
        return statement
    }

    private func bind(_ value: SQLiteValue, at column: Int32, in statement: OpaquePointer,
                      sql: String) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(statement, column)
        case let .integer(v): rc = sqlite3_bind_int64(statement, column, v)
        case let .real(v): rc = sqlite3_bind_double(statement, column, v)
        case let .text(v):
            // Values are arbitrary text, including NUL-free unit files with any bytes of UTF-8;
            // pass the byte count so nothing depends on a terminator.
            var text = v
            rc = text.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    guard let base = chars.baseAddress else {
                        // An empty string has no buffer; a NULL pointer would bind SQL NULL instead of ''.
                        return CSQLite_bind_text_transient(statement, column, "", 0)
                    }
                    return CSQLite_bind_text_transient(statement, column, base, Int32(chars.count))
                }
            }
        }
        guard rc == SQLITE_OK else { throw error(rc, sql) }
    }

    private func error(_ rc: Int32, _ call: String) -> SQLiteError {
        // The connection's message is more specific than sqlite3_errstr ("no such table: x").
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? rc
        return SQLiteError(call: call, code: extended, message: message, path: path)
    }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}

/// One result row, valid only inside the `row` closure of ``SQLiteConnection/query(_:_:row:)``.
/// (It wraps the statement being stepped; keeping it past the closure would read a later row.)
struct SQLiteRow {
    fileprivate let statement: OpaquePointer

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func index(_ column: Int32) -> UInt64 { UInt64(bitPattern: integer(column)) }
    func real(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }

    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func date(_ column: Int32) -> Date? {
        isNull(column) ? nil : Date(timeIntervalSinceReferenceDate: real(column))
    }
}
