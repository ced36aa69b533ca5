import FleetStore
import Foundation
import Synchronization

/// Where `GET /fleet/v1/store/backup` gets its copy of the store: only the fleetd that holds
/// the embedded store can take one (the file is locked to every other process). Any other
/// fleetd is given ``unavailable(_:)`` with the message that tells the operator where to go.
///
/// One backup at a time: each takes a copy of the whole store into the data directory, so a
/// second request while one runs is refused (429) rather than doubling the disk it needs.
public final class StoreBackupSource: Sendable {
    /// The directory snapshots are written to (the data directory: same disk, owner-only).
    let directory: String?
    /// Writes a complete, checked snapshot to the path it is given.
    let take: (@Sendable (String) async throws -> StoreBackupFacts)?
    /// Why there is no backup here, and what to do instead.
    let refusal: String
    private let running = Mutex(false)

    private init(directory: String?, take: (@Sendable (String) async throws -> StoreBackupFacts)?, refusal: String) {
        self.directory = directory
        self.take = take
        self.refusal = refusal
    }

    /// This fleetd holds the store: `take` writes a snapshot to the path it is given, in `directory`.
    public static func embedded(directory: String, take: @escaping @Sendable (String) async throws -> StoreBackupFacts) -> StoreBackupSource {
        StoreBackupSource(directory: directory, take: take, refusal: "")
    }

    /// This fleetd does not hold the store; `reason` says where the backup is taken instead.
    public static func unavailable(_ reason: String) -> StoreBackupSource {
        StoreBackupSource(directory: nil, take: nil, refusal: reason)
    }

    /// Marks a backup as running; false if one already is.
    func begin() -> Bool {
        running.withLock { running in
            defer { running = true }
            return !running
        }
    }

    func end() {
        running.withLock { $0 = false }
    }
}
