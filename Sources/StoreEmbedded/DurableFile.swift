import Foundation
import Glibc

/// The file steps a backup and a restore need to leave either the old file or the whole new
/// one in place, never half of one, even across a power loss: create owner-only, fsync, rename,
/// fsync the directory (a rename is durable only once its directory is).
package enum DurableFile {
    /// Creates `path` empty with mode 0600, refusing to follow a symbolic link or to reuse a file
    /// (`O_EXCL`), so nothing planted at the name is written through.
    static func createPrivate(_ path: String) throws(StoreRestoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, StoreFileModes.file)
        guard fd >= 0 else { throw .fileSystem("cannot create '\(path)'", errno) }
        // The umask may have taken more, never less; say exactly 0600.
        fchmod(fd, StoreFileModes.file)
        close(fd)
    }

    /// Flushes `path`'s contents to the disk.
    static func sync(_ path: String) throws(StoreRestoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .fileSystem("cannot open '\(path)'", errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .fileSystem("cannot flush '\(path)' to disk", errno) }
    }

    /// Renames `from` to `to` (replacing `to`) and makes the rename durable.
    static func rename(_ from: String, to: String) throws(StoreRestoreError) {
        guard Glibc.rename(from, to) == 0 else { throw .fileSystem("cannot rename '\(from)' to '\(to)'", errno) }
        syncDirectory(of: to)
    }

    /// Flushes the directory holding `path`, so a rename or creation in it survives a power loss.
    /// Best effort: a file system that cannot fsync a directory has nothing more to offer.
    static func syncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent.isEmpty ? "."
                      : (path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// The size of `path` in bytes (0 if it cannot be read).
    static func size(_ path: String) -> Int64 {
        var status = stat()
        return stat(path, &status) == 0 ? Int64(status.st_size) : 0
    }

    /// Removes `path` if it is there.
    static func remove(_ path: String) {
        unlink(path)
    }
}
