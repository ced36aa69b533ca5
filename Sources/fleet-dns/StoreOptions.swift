import ArgumentParser
import AsyncHTTPClient
import FleetDiscovery
import FleetIdentity
import FleetRemoteStore
import FleetStore
import Foundation
import Logging
import ServiceLifecycle

/// Where the discovery records come from: fleetd's keys API (the normal case), or a file of
/// records served through an in-process store (tests, benchmarks, a machine without fleetd).
///
/// This is fleet's version of the file; the standalone package's has `--records` only, since
/// FleetRemoteStore (RemoteStore) is not part of it.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "fleetd keys API to follow (default $FLEET_DNS_STORE, then https://127.0.0.1:4001 with --ca-file/--cert-file/--key-file, else http://127.0.0.1:4001).",
        valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp(
        "With an https:// store: the cluster CA (PEM) (default $FLEET_DNS_CA_FILE).", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp(
        "With an https:// store: a client certificate; a discovery-reader one is enough, from fleetctl cluster issue --role discovery-reader (default $FLEET_DNS_CERT_FILE).",
        valueName: "file"))
    var certFile: String?

    @Option(help: ArgumentHelp("With an https:// store: the certificate's key (default $FLEET_DNS_KEY_FILE).", valueName: "file"))
    var keyFile: String?

    @Option(help: ArgumentHelp(
        "Serve records from this JSON file (an array of discovery records) through an in-process store instead.",
        valueName: "file"))
    var records: String?

    /// The keys API URL, resolved once: flag, then environment, then fleetd's default (over TLS
    /// when there are TLS files, as fleetd serves it only so unless `--insecure-plaintext`).
    func storeURL(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let tls = ((try? tlsFiles(env)) ?? nil) != nil
        return store ?? env["FLEET_DNS_STORE"] ?? (tls ? "https" : "http") + "://127.0.0.1:4001"
    }

    func validate() throws {
        if store != nil && records != nil {
            throw ValidationError("Give either --store or --records, not both.")
        }
        let url = storeURL()
        if records == nil && !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--store must be an http:// URL of a fleetd keys API, not '\(url)'.")
        }
        _ = try tlsFiles()
    }

    /// `--ca-file`, `--cert-file`, `--key-file` (or `FLEET_DNS_*`): all three or none.
    func tlsFiles(_ env: [String: String] = ProcessInfo.processInfo.environment)
        throws -> (ca: String, certificate: String, key: String)?
    {
        let given = [("--ca-file", caFile ?? env["FLEET_DNS_CA_FILE"]), ("--cert-file", certFile ?? env["FLEET_DNS_CERT_FILE"]),
                     ("--key-file", keyFile ?? env["FLEET_DNS_KEY_FILE"])]
        let missing = given.filter { $0.1 == nil }.map(\.0)
        if missing.count == given.count { return nil }
        guard missing.isEmpty, let ca = given[0].1, let certificate = given[1].1, let key = given[2].1 else {
            throw ValidationError("--ca-file, --cert-file and --key-file go together; missing \(missing.joined(separator: ", ")).")
        }
        return (ca, certificate, key)
    }

    /// The store, and the services that must run beside it (the in-memory store expires TTLs).
    /// A remote store's index is read at `indexKey` (the discovery root), which a
    /// `discovery-reader` certificate may read.
    func makeStore(indexKey: String, logger: Logger) async throws -> (any KeyValueStore, [any Service]) {
        guard let records else {
            logger.info("following the store", metadata: ["store.url": "\(storeURL())"])
            return (RemoteStore(url: storeURL(), client: try httpClient(), indexKey: indexKey), [])
        }
        let store = InMemoryStore()
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: records))
        } catch {
            throw ValidationError("Cannot read '\(records)': \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = DiscoveryRecord.sinceDecoding
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

    /// The TLS client, kept for the life of the process: it is never shut down (nor dropped)
    /// while a watch may still use it.
    nonisolated(unsafe) private static var tlsClient: HTTPClient?

    /// The HTTP client for the store: with TLS files, one that presents the certificate and
    /// trusts only the cluster CA; made once.
    func httpClient() throws -> HTTPClient {
        guard let files = try tlsFiles() else { return RemoteStore.defaultClient }
        if let made = Self.tlsClient { return made }
        let tls: NodeTLS
        do {
            tls = try NodeTLS(caFile: files.ca, certificateFile: files.certificate, keyFile: files.key)
        } catch {
            throw ValidationError("cannot use the TLS files: \(error)")
        }
        let configuration = RemoteStore.clientConfiguration(tls: tls.clientConfiguration)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        Self.tlsClient = client
        return client
    }
}
