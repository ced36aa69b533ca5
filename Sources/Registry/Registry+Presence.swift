import FleetStore
import Foundation

/// A presence key found where this fleetd wanted its own: whose it is and when it runs out.
public struct PresenceHolder: Sendable, Hashable {
    /// The record in the key, nil when it cannot be read as one.
    public var record: MachineRecord?
    /// When the key expires unless refreshed (nil: no TTL).
    public var expiration: Date?
}

/// What a presence refresh found.
public enum PresenceRefresh: Sendable, Hashable {
    /// The key was this fleetd's and lives on.
    case refreshed
    /// The key had expired: nobody holds the machine's presence.
    case expired
    /// The key is another fleetd's (another session with the same machine ID).
    case heldByAnother
}

// Presence owned by one fleetd session: every write after the first checks the key still holds
// exactly the record this fleetd wrote, so two fleetds with one machine ID never share a key
// without noticing.
extension Registry {
    /// Creates the machine's presence key. Returns nil when created, or what holds the key.
    public func createMachine(_ record: MachineRecord, ttl: Int64) async throws -> PresenceHolder? {
        do {
            try await store.create(keys.machine(record.id), Self.encode(record), ttl: ttl)
            return nil
        } catch let error as StoreError where error.code == .nodeExists {
            // Expired between the create and this read: nobody holds it, the caller tries again.
            return try await presenceHolder(record.id) ?? PresenceHolder(record: nil, expiration: .distantPast)
        }
    }

    /// What is in the machine's presence key, nil when there is none.
    public func presenceHolder(_ id: MachineID) async throws -> PresenceHolder? {
        guard let node = try await store.getIfPresent(keys.machine(id)) else { return nil }
        return PresenceHolder(record: Self.decode(MachineRecord.self, node.value), expiration: node.expiration)
    }

    /// Keeps `record`'s presence key alive, if it still holds exactly `record`.
    public func refreshMachine(_ record: MachineRecord, ttl: Int64) async throws -> PresenceRefresh {
        do {
            try await store.refresh(keys.machine(record.id), ttl: ttl,
                                    condition: StoreCondition(prevExist: true, prevValue: try Self.encode(record)))
            return .refreshed
        } catch let error as StoreError where error.code == .keyNotFound {
            return .expired
        } catch let error as StoreError where error.code == .compareFailed {
            return .heldByAnother
        }
    }

    /// Removes `record`'s presence key if it still holds exactly `record` (never another
    /// fleetd's with the same machine ID).
    public func withdrawMachine(_ record: MachineRecord) async throws {
        do {
            try await store.delete(keys.machine(record.id), condition: StoreCondition(prevValue: try Self.encode(record)))
        } catch let error as StoreError where error.code == .keyNotFound || error.code == .compareFailed {
        }
    }
}
