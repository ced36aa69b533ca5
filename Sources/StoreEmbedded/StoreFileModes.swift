import FleetStore
import Glibc

/// Owner-only permissions for the embedded store's files.
///
/// `store.db` holds every unit's contents, `Environment=SECRET=...` included, so no other local
/// user may read it. SQLite creates its files with 0644 less the umask, and gives `-wal` and
/// `-shm` the mode of the database file; so the database is created here with 0600 before
/// SQLite opens it, and a database (or `-wal`/`-shm`) left readable by an older fleetd is
/// tightened to 0600 when the store opens. The caller logs what was tightened.
package enum StoreFileModes {
    /// Mode of the database and its `-wal` and `-shm` files.
    package static let file: mode_t = 0o600
    /// Mode of a data directory fleet owns.
    package static let directory: mode_t = 0o700

    /// One permission change made on an existing file or directory.
    package struct Change: Sendable, Equatable, CustomStringConvertible {
        package var path: String
        package var from: mode_t
        package var to: mode_t

        package init(path: String, from: mode_t, to: mode_t) {
            self.path = path
            self.from = from
            self.to = to
        }

        package var description: String {
            "\(path): \(String(from, radix: 8)) -> \(String(to, radix: 8))"
        }
    }

    /// Creates `path` with mode 0600 if it does not exist, and takes group and other access
    /// away from it and from its `-wal` and `-shm` files if they exist.
    ///
    /// A file that cannot be opened is left to SQLite, whose error names it better.
    /// - Returns: the files whose mode changed.
    package static func secureDatabase(at path: String) -> [Change] {
        var changes: [Change] = []
        // O_CREAT without O_TRUNC: an existing database is opened as it is.
        if let change = tighten(path, create: true) { changes.append(change) }
        for suffix in ["-wal", "-shm"] {
            if let change = tighten(path + suffix, create: false) { changes.append(change) }
        }
        return changes
    }

    /// Creates `path` as a directory with mode 0700 if it does not exist (its parents as for
    /// `mkdir -p`, with 0755), or takes group and other access away from it if it exists.
    ///
    /// A directory fleet does not own alone is never changed: one owned by another user, or one
    /// with the sticky bit (`/tmp` given as `--data-dir`); it is reported by ``ownershipProblem(at:)``.
    /// - Returns: the change made to an existing directory, if any.
    /// - Throws: ``StoreError/Code/unavailable`` naming the directory when it cannot be created.
    package static func secureDirectory(at path: String) throws(StoreError) -> Change? {
        var prefix = path.hasPrefix("/") ? "" : "."
        let components = path.split(separator: "/")
        for (offset, component) in components.enumerated() {
            prefix += "/" + component
            let last = offset == components.count - 1
            if mkdir(prefix, last ? directory : 0o755) != 0 {
                let code = errno
                guard code == EEXIST else {
                    throw StoreError(.unavailable, "cannot create the data directory '\(prefix)': \(String(cString: strerror(code)))")
                }
            }
        }
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw StoreError(.unavailable, "the data directory '\(path)' is not a directory")
        }
        guard ownershipProblem(status) == nil, status.st_mode & 0o077 != 0 else { return nil }
        let from = status.st_mode & 0o7777
        let to = from & ~mode_t(0o077)
        guard chmod(path, to) == 0 else { return nil }
        return Change(path: path, from: from, to: to)
    }

    /// Why fleet leaves the directory's mode alone, or nil when it is fleet's own.
    package static func ownershipProblem(at path: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0 else { return "it cannot be read" }
        return ownershipProblem(status)
    }

    private static func ownershipProblem(_ status: stat) -> String? {
        if status.st_uid != geteuid() { return "it belongs to user \(status.st_uid), not to fleetd's user \(geteuid())" }
        if status.st_mode & S_ISVTX != 0 { return "it has the sticky bit (a shared directory such as /tmp)" }
        return nil
    }

    private static func tighten(_ path: String, create: Bool) -> Change? {
        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (create ? O_CREAT : 0)
        let fd = open(path, flags, file)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_mode & 0o077 != 0 else {
            return nil
        }
        let from = status.st_mode & 0o7777
        guard fchmod(fd, file) == 0 else { return nil }
        return Change(path: path, from: from, to: file)
    }
}
