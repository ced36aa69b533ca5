import ArgumentParser
import FleetAPIClient
import Foundation
import Glibc
import NIOCore

/// `fleetctl backup FILE`: a consistent copy of the embedded store, taken online by the fleetd
/// that holds it (the store machine) and written here atomically. Restore it with
/// `fleetd restore FILE` on a stopped store machine.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Save a consistent copy of the cluster's embedded store to FILE (online).",
        discussion: """
        The fleetd that holds the embedded store (the store machine, or the --endpoint that reaches \
        it) copies the store while it keeps running and sends the copy, an SQLite file. FILE is \
        written owner-only (0600) through a temporary file and renamed into place when complete, \
        so it is never half written. It holds every unit and its contents, secrets included: keep \
        it as safe as the store machine. Over TLS an admin certificate is needed.

        Restore on the stopped store machine with: fleetd restore FILE

        A cluster on etcd is backed up with etcd's own tools (etcdctl snapshot save).

        Examples:
          fleetctl backup /var/backups/fleet/store-$(date +%F).db
          fleetctl --endpoint https://10.0.0.1:4002 --ca-file ca.pem --cert-file admin.pem \\
              --key-file admin-key.pem backup fleet.db --force
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Replace FILE if it exists.") var force = false
    @Argument(help: "The file to write.") var file: String

    /// The start of every SQLite database file.
    static let sqliteMagic = Array("SQLite format 3\0".utf8)

    func run() async throws {
        if !force, FileManager.default.fileExists(atPath: file) {
            Terminal.error("\(file) exists; give --force to replace it")
            throw ExitCode.failure
        }
        let client = try global.client()
        let backup: FleetClient.StoreBackup
        do {
            backup = try await client.storeBackup()
        } catch let error as FleetClientError {
            Terminal.error(error.status == nil ? "\(error)" : "Error backing up the store: \(error.apiMessage)")
            throw ExitCode.failure
        }
        let partial = file + ".partial"
        do {
            let bytes = try await write(backup, to: partial)
            guard rename(partial, file) == 0 else {
                throw FleetClientError("cannot rename \(partial) to \(file): \(String(cString: strerror(errno)))")
            }
            syncDirectory(of: file)
            let index = backup.index.map { ", store index \($0)" } ?? ""
            let keys = backup.keys.map { ", \($0) keys" } ?? ""
            print("Wrote \(file): \(bytes) bytes\(index)\(keys)")
        } catch {
            unlink(partial)
            Terminal.error("Error backing up the store: \(error)")
            throw ExitCode.failure
        }
    }

    /// Streams the body into `path` (created owner-only, never through a link), checks it is
    /// all there and an SQLite file, and flushes it. Returns its size.
    func write(_ backup: FleetClient.StoreBackup, to path: String) async throws -> Int64 {
        unlink(path)  // left by an interrupted run: ours, by its name
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FleetClientError("cannot create \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var written: Int64 = 0
        var head: [UInt8] = []
        for try await chunk in backup.body {
            let bytes = Data(chunk.readableBytesView)
            if head.count < Self.sqliteMagic.count { head += bytes.prefix(Self.sqliteMagic.count - head.count) }
            try handle.write(contentsOf: bytes)
            written += Int64(bytes.count)
        }
        if let length = backup.length, length != written {
            throw FleetClientError("the transfer ended after \(written) of \(length) bytes")
        }
        guard head == Self.sqliteMagic else { throw FleetClientError("fleetd sent something that is not an SQLite file") }
        try handle.synchronize()
        return written
    }

    /// Flushes the directory of `path`, so the rename survives a power loss (best effort).
    func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
