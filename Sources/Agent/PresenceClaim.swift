import FleetRegistry
import FleetStore
import Foundation
import Logging

/// Another live fleetd holds this machine's ID: two machines were given the same
/// `/etc/machine-id` (a cloned image, a copied container). Code `duplicate_machine_id`.
public struct DuplicateMachineError: Error, Equatable, CustomStringConvertible {
    public let code = "duplicate_machine_id"
    public var machineID: MachineID
    /// The other holder's address, as its presence record gives it.
    public var heldBy: String?

    public init(machineID: MachineID, heldBy: String?) {
        self.machineID = machineID
        self.heldBy = heldBy
    }

    public var description: String {
        "duplicate machine ID: \(machineID) is already in use by another live fleetd"
            + (heldBy.map { " (at \($0))" } ?? "")
            + ". Each machine needs its own ID: give this machine a new one (rm /etc/machine-id && "
            + "systemd-machine-id-setup, or --machine-id-file) and start fleetd again. "
            + "The machine holding the ID was left alone."
    }
}

/// Takes this machine's presence key for this fleetd's session, refusing to share it with
/// another live fleetd.
///
/// A presence record names the session (``MachineRecord/session``) of the fleetd that wrote it:
/// a token fleetd keeps for the life of a boot (in its data directory, with the boot ID), so a
/// fleetd restarted after `kill -9` or a crash finds its own session and takes the key over at
/// once. A record of another session is either a live duplicate or a predecessor that is gone
/// (a reboot within the TTL, a record from before sessions existed); the claim tells them apart
/// by waiting, without writing anything: a record nobody refreshes expires within its TTL (then
/// the key is taken), one that is refreshed meanwhile, or still there after its TTL, belongs to a
/// live machine and the claim fails with ``DuplicateMachineError``. Only a session-less record
/// (tests, embedders) skips all this and takes the key as fleet did.
public struct PresenceClaim: Sendable {
    public let registry: Registry
    public let record: MachineRecord
    public let ttl: Int64
    public let logger: Logger
    /// How often a foreign record is read while waiting.
    public var poll: Duration = .milliseconds(250)

    public init(registry: Registry, record: MachineRecord, ttl: Int64, logger: Logger) {
        self.registry = registry
        self.record = record
        self.ttl = ttl
        self.logger = logger
    }

    /// How much later an expiration must read to count as a refresh (etcd reports whole seconds).
    static let refreshJitter: TimeInterval = 1.5

    public func claim() async throws {
        guard let session = record.session else { return try await registry.publishMachine(record, ttl: ttl) }
        var first: (expiration: Date?, deadline: ContinuousClock.Instant)?
        while true {
            try Task.checkCancellation()
            guard let holder = try await registry.createMachine(record, ttl: ttl) else { return }
            if holder.record?.session == session {
                // Our own session's record (fleetd restarted within the TTL): take it as it is.
                return try await registry.publishMachine(record, ttl: ttl)
            }
            let now = ContinuousClock.now
            guard let seen = first else {
                // Wait out its TTL (bounded: a record with a longer one is still a live holder).
                let left = holder.expiration.map { max(0, $0.timeIntervalSinceNow) + Self.refreshJitter } ?? 0
                let wait = min(Duration.seconds(left), .seconds(max(1, min(ttl, 3600)) * 2 + 2))
                first = (holder.expiration, now + max(wait, .seconds(1)))
                logger.warning("machine ID is held by another fleetd session; waiting to see whether it is alive",
                               metadata: ["machine.id": "\(record.id)", "presence.holder": "\(holder.record?.publicIP ?? "?")",
                                          "presence.wait": "\(wait)"])
                try await Task.sleep(for: poll)
                continue
            }
            var refreshed = false
            if let before = seen.expiration, let after = holder.expiration {
                refreshed = after.timeIntervalSince(before) > Self.refreshJitter
            }
            if refreshed || now >= seen.deadline {
                throw DuplicateMachineError(machineID: record.id, heldBy: holder.record?.publicIP)
            }
            try await Task.sleep(for: poll)
        }
    }
}
