import ArgumentParser
import FleetDiscovery
import FleetRemoteStore
import FleetStore
import FleetStoreHTTP
import Foundation
import Logging
import ServiceLifecycle

/// Where the discovery records come from: fleetd's keys API (the normal case), or a file of
/// records served through an in-process store (tests, benchmarks, a machine without fleetd).
///
/// This is fleet's version of the file; the standalone package's has `--records` only, since
/// FleetStoreHTTP (RemoteStore) is not part of it.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "fleetd keys API to follow (default $FLEET_DNS_STORE, then http://127.0.0.1:4001).", valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp(
        "Serve records from this JSON file (an array of discovery records) through an in-process store instead.",
        valueName: "file"))
    var records: String?

    /// The keys API URL, resolved once: flag, then environment, then fleetd's default.
    func storeURL(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        store ?? env["FLEET_DNS_STORE"] ?? "http://127.0.0.1:4001"
    }

    func validate() throws {
        if store != nil && records != nil {
            throw ValidationError("Give either --store or --records, not both.")
        }
        let url = storeURL()
        if records == nil && !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--store must be an http:// URL of a fleetd keys API, not '\(url)'.")
        }
    }

    /// The store, and the services that must run beside it (the in-memory store expires TTLs).
    func makeStore(logger: Logger) async throws -> (any KeyValueStore, [any Service]) {
        guard let records else {
            logger.info("following the store", metadata: ["store.url": "\(storeURL())"])
            return (RemoteStore(url: storeURL()), [])
        }
        let store = InMemoryStore()
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: records))
        } catch {
            throw ValidationError("Cannot read '\(records)': \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let list: [DiscoveryRecord]
        do {
            list = try decoder.decode([DiscoveryRecord].self, from: data)
        } catch {
            throw ValidationError("'\(records)' is not a JSON array of discovery records: \(error)")
        }
        for record in list {
            try await store.set(DiscoveryKeys.standard.record(of: record), record.encoded())
        }
        logger.info("seeded the in-process store", metadata: ["dns.records": "\(list.count)", "dns.file": "\(records)"])
        return (store, [store])
    }
}
