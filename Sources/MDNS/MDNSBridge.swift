import FleetDiscovery
import FleetStore
import Logging
import ServiceLifecycle

/// Announces this machine's healthy service instances on the local network with mDNS/DNS-SD,
/// so that `avahi-browse`, Bonjour and other zeroconf clients find what fleet runs here.
///
/// It follows the discovery records under `root` (`/discovery/<service>/<instance>`) with
/// ``KeyValueStore/follow(_:recursive:options:)``: one full read, then the changes, read
/// afresh whenever the watch falls behind the store's history; failures are retried with
/// back-off and a silent watch is made anew. Each record that is healthy and belongs to `machineID` is handed to an
/// ``AvahiPublisher`` as an ``MDNSService``; records that go away, turn unhealthy or move to
/// another machine are withdrawn. Every machine runs its own bridge for its own records, so
/// each instance is announced once, by the host it runs on, with that host's address.
///
/// Run it in fleetd's (or fleet-dns's) `ServiceGroup`: `run()` returns on graceful shutdown
/// after withdrawing everything it announced.
public struct MDNSBridge: Service {
    let store: any KeyValueStore
    let machineID: String
    let keys: DiscoveryKeys
    let logger: Logger

    /// - Parameters:
    ///   - store: where the registrars keep the discovery records.
    ///   - machineID: this machine's ID; only records with this `machineID` are announced.
    ///   - root: the records' prefix in the store.
    public init(store: any KeyValueStore, machineID: String, root: String = DiscoveryKeys.standard.root,
                logger: Logger) {
        self.store = store
        self.machineID = machineID
        self.keys = DiscoveryKeys(root: root)
        self.logger = logger
    }

    public func run() async throws {
        let publisher = try AvahiPublisher(logger: logger)
        publisher.start()
        do {
            try await follow(publisher)
        } catch {
            await publisher.stop()
            throw error
        }
        await publisher.stop()  // withdraw before returning, not when the records' TTLs run out
    }

    /// The announcement for `record` on machine `machineID`, or nil when this bridge should not
    /// announce it (unhealthy, another machine's, or not expressible in DNS-SD).
    public static func announcement(for record: DiscoveryRecord, machineID: String) -> MDNSService? {
        guard record.healthy, record.machineID == machineID else { return nil }
        return MDNSService(record: record)
    }

    private func follow(_ publisher: AvahiPublisher) async throws {
        let options = StoreFollowOptions(counters: StoreFollowCounters(follower: "mdns"))
        for try await change in store.follow(keys.root, recursive: true, options: options).cancelOnGracefulShutdown() {
            switch change {
            case let .snapshot(tree, index):
                // Changes made during the read come again as events: announcements are idempotent.
                var services: [String: MDNSService] = [:]
                for leaf in tree?.leaves ?? [] where keys.isRecordKey(leaf.key) {
                    if let service = leaf.value.flatMap(announcement(forValue:)) { services[leaf.key] = service }
                }
                publisher.replaceAll(services)
                logger.debug("mDNS: discovery records read",
                             metadata: ["store.index": "\(index)", "mdns.services": "\(services.count)"])
            case let .event(event):
                apply(event, to: publisher)
            case let .lost(error):
                logger.info("mDNS: following discovery records failed; retrying",
                            metadata: ["store.key": "\(keys.root)", "error": "\(error)"])
            case .restored:
                logger.info("mDNS: following discovery records again", metadata: ["store.key": "\(keys.root)"])
            }
        }
    }

    private func apply(_ event: StoreEvent, to publisher: AvahiPublisher) {
        let key = event.node.key
        if event.isRemoval {
            if event.node.isDirectory { publisher.withdrawAll(under: key) } else { publisher.withdraw(key: key) }
            return
        }
        guard keys.isRecordKey(key), !event.node.isDirectory else { return }
        if let service = event.node.value.flatMap(announcement(forValue:)) {
            publisher.publish(service, key: key)
        } else {
            publisher.withdraw(key: key)
        }
    }

    private func announcement(forValue json: String) -> MDNSService? {
        guard let record = DiscoveryRecord.decode(json) else { return nil }
        return Self.announcement(for: record, machineID: machineID)
    }
}
