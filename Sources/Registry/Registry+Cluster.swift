import FleetStore
import Foundation

/// The store holds no fleet cluster, and fleetd was not asked to make one.
public struct NoClusterError: Error, CustomStringConvertible {
    /// What is missing, e.g. `key /fleet/cluster` or `file /var/lib/fleet/store.db`.
    public var missing: String

    public init(missing: String) { self.missing = missing }

    public var description: String {
        "the store holds no fleet cluster (no \(missing)). If this is a new cluster, start fleetd once with "
            + "--init-store. If the cluster had state, its store is not the one fleetd sees: a missing or "
            + "unmounted data directory (--data-dir), or another store (--store, --etcd-servers, --prefix)."
    }
}

extension Registry {
    struct ClusterRecord: Codable {
        var created: String
        var by: String
        /// The key layout (``RegistryLayout``); absent in clusters made before it was recorded,
        /// which are layout 1. Older fleetds only check that the key exists, so the field is
        /// safe to add under them.
        var layout: Int?
    }

    /// Makes sure the store holds this cluster, so that a store that went missing (a data
    /// directory that was not mounted, an etcd that was wiped) is never taken for a cluster
    /// that has no units, which would make every agent stop everything it runs.
    ///
    /// A store with the cluster key is fine. One without it is a new cluster only when `create`
    /// (fleetd's `--init-store`); a store that has fleet's keys but no cluster key (made by an
    /// older fleetd) gets the key. Safe to call from every machine at once.
    /// - Throws: ``NoClusterError`` for an empty store without `create`.
    public func ensureCluster(create: Bool, by machine: MachineID) async throws {
        if try await isCluster() { return }
        var hasState = false
        for key in [keys.jobs, keys.machines, keys.schedules] where !hasState {
            hasState = try await store.getIfPresent(key) != nil
        }
        guard create || hasState else { throw NoClusterError(missing: "key \(keys.cluster)") }
        // Written by hand: ISO8601DateFormatter and even FoundationEssentials' `.iso8601` style
        // reach ICU (a formatter; a calendar in the current time zone), about 3 MB of resident
        // pages kept for the life of the fleetd that made the cluster (issue 16, memory).
        let record = ClusterRecord(created: RFC3339Time.formatSeconds(Date()), by: machine.rawValue,
                                   layout: RegistryLayout.current)
        do {
            try await store.create(keys.cluster, try Self.encode(record))
        } catch let error as StoreError where error.code == .nodeExists {
            // Another machine made it first.
        }
    }

    /// True when the store holds the cluster key.
    public func isCluster() async throws -> Bool {
        try await store.getIfPresent(keys.cluster) != nil
    }
}
