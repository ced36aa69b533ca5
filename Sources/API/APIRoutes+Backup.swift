import FleetAPIClient
import FleetStore
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Not in fleet: `GET /fleet/v1/store/backup`, a consistent copy of the embedded store taken by
/// the fleetd that holds it (`fleetctl backup FILE`). Admin only on a TLS listener
/// (``RolePolicy``); allowed on the local API socket like every other call.
extension APIRoutes {
    /// The response's media type: an SQLite database file.
    static let backupMediaType = "application/vnd.sqlite3"

    func storeBackup() async throws -> Response {
        let source = configuration.storeBackup
        guard let directory = source.directory, let take = source.take else {
            throw APIError(.conflict, source.refusal)
        }
        // Ended when the snapshot file is closed: after the stream, or when the response is dropped.
        guard source.begin() else {
            throw APIError(.tooManyRequests, "a backup of the store is already being taken; try again when it is done")
        }
        Self.removeStaleSnapshots(in: directory)
        let path = "\(directory)/\(Self.snapshotPrefix)\(UUID().uuidString).db"
        let snapshot: StoreBackupFacts
        let file: BackupFile
        do {
            defer { unlink(path) }  // the open descriptor below keeps the contents for the stream
            snapshot = try await take(path)
            file = try BackupFile(path: path, onClose: { source.end() })
        } catch {
            source.end()
            throw APIError(.internalServerError, "the backup failed: \(error)")
        }
        var headers = HTTPFields()
        headers[.contentType] = Self.backupMediaType
        headers[Self.backupIndexHeader] = String(snapshot.index)
        headers[Self.backupKeysHeader] = String(snapshot.keys)
        return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: Int(clamping: snapshot.bytes)) { writer in
            defer { file.finish() }
            while let chunk = try file.next() {
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        })
    }

    static let snapshotPrefix = "store-backup-"

    /// Removes snapshots a fleetd killed mid-backup left behind (a finished one is unlinked as
    /// soon as it is opened for the stream). Called while no other backup runs.
    static func removeStaleSnapshots(in directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(snapshotPrefix) {
            unlink(directory + "/" + name)
        }
    }
    /// The store's index in the copy, and its number of keys (headers, so the body is the file).
    static let backupIndexHeader = HTTPField.Name(FleetClient.backupIndexHeader) ?? .contentLocation
    static let backupKeysHeader = HTTPField.Name(FleetClient.backupKeysHeader) ?? .contentLocation
}

/// A snapshot file being streamed: opened before it is unlinked, so nothing is left on disk
/// whether the client reads it all, goes away, or the response is never sent; closed with it.
final class BackupFile: Sendable {
    private let descriptor: Int32
    /// The close callback, taken by whichever closes first: the end of the stream or deinit.
    private let onClose: Mutex<(@Sendable () -> Void)?>

    init(path: String, onClose: @escaping @Sendable () -> Void) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw APIError(.internalServerError, "cannot read the snapshot '\(path)'") }
        self.onClose = Mutex(onClose)
    }

    deinit { finish() }

    /// Closes the file and reports it, once: at the end of the stream, so the next backup may
    /// start at once, or when the response is dropped unsent.
    func finish() {
        guard let callback = onClose.withLock({ callback in defer { callback = nil }; return callback }) else { return }
        close(descriptor)
        callback()
    }

    /// The next 64 KiB or less, nil at the end. A read of a file just written comes from the
    /// page cache, so it does not hold the calling thread in any way that matters.
    func next() throws -> ByteBuffer? {
        var buffer = ByteBuffer()
        let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 16) { bytes in
            while true {
                let count = read(descriptor, bytes.baseAddress, bytes.count)
                if count >= 0 { return count }
                if errno != EINTR { throw APIError(.internalServerError, "reading the snapshot failed: \(String(cString: strerror(errno)))") }
            }
        }
        return count == 0 ? nil : buffer
    }
}
