import FleetRegistry
import FleetStore
import FleetStoreEmbedded
import FleetStoreEtcd
import Foundation

/// The store the scale benchmark runs on, and how it is put away afterwards.
struct OpenedStore: Sendable {
    var store: any KeyValueStore
    var name: String
    /// The embedded store's expiry loop, as fleetd runs it.
    var expiry: Task<Void, Never>?
    /// The embedded store's directory, removed at the end.
    var directory: String?
    var etcd: EtcdStore?

    /// Stops the store and removes what the run left: the embedded store's directory, or the
    /// run's own key prefix on etcd.
    func close(registry: Registry) async {
        if let etcd {
            try? await etcd.deleteIfPresent(registry.keys.prefix, recursive: true)
            await etcd.shutdown()
        }
        if let expiry {
            expiry.cancel()
            await expiry.value  // EmbeddedStore.run closes the file when cancelled
        }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}

extension ScaleBenchmark {
    /// The embedded store in a fresh directory under `--dir` (durable SQLite, as fleetd opens it),
    /// or an `EtcdStore` under a key prefix of this run's own.
    static func openStore(_ options: ScaleOptions) throws -> OpenedStore {
        if let endpoints = options.etcd {
            let prefix = "/fleet-scale-\(getpid())"
            let etcd = try EtcdStore(configuration: .init(endpoints: endpoints, keyPrefix: prefix,
                                                          watchLimits: watchLimits(options)))
            return OpenedStore(store: etcd, name: "etcd at \(endpoints.joined(separator: ",")) (key prefix \(prefix))", etcd: etcd)
        }
        let directory = options.directory + "/fleet-scale-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ScaleBenchmarkError(.setup, "cannot create \(directory): \(error)")
        }
        let embedded = try EmbeddedStore(path: directory + "/store.db", watchLimits: watchLimits(options))
        return OpenedStore(store: embedded, name: "embedded (SQLite WAL, durable) in \(directory)",
                           expiry: Task { try? await embedded.run() }, directory: directory)
    }

    /// fleetd's default allows 4,096 watches; a single store serving more machines than that
    /// would be configured for them, and so is this one.
    static func watchLimits(_ options: ScaleOptions) -> WatchLimits {
        WatchLimits(maxWatchers: max(WatchLimits.defaultMaxWatchers, options.machines * 2 + 64))
    }
}
