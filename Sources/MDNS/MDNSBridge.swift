import FleetDiscovery
import FleetStore
import Logging
import ServiceLifecycle

/// Announces this machine's healthy service instances on the local network with mDNS/DNS-SD,
/// so that `avahi-browse`, Bonjour and other zeroconf clients find what fleet runs here.
///
/// It follows the discovery records under `root` (`/discovery/<service>/<instance>`): one full
/// read, then a watch from the next index, re-reading whenever the watch falls behind the
/// store's history. Each record that is healthy and belongs to `machineID` is handed to an
/// ``AvahiPublisher`` as an ``MDNSService``; records that go away, turn unhealthy or move to
/// another machine are withdrawn. Every machine runs its own bridge for its own records, so
/// each instance is announced once, by the host it runs on, with that host's address.
///
/// Run it in fleetd's (or fleet-dns's) `ServiceGroup`: `run()` returns on graceful shutdown
/// after withdrawing everything it announced.
public struct MDNSBridge: Service {
    let store: any KeyValueStore
    let machineID: String
    let root: String
    let logger: Logger

    /// - Parameters:
    ///   - store: where the registrars keep the discovery records.
    ///   - machineID: this machine's ID; only records with this `machineID` are announced.
    ///   - root: the records' prefix in the store.
    public init(store: any KeyValueStore, machineID: String, root: String = "/discovery", logger: Logger) {
        self.store = store
        self.machineID = machineID
        self.root = root
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
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // The index first, then the read: changes in between are seen twice (harmless,
                // announcements are idempotent) rather than not at all.
                let index = try await store.currentIndex()
                let tree = try await store.getIfPresent(root, recursive: true)
                var services: [String: MDNSService] = [:]
                for leaf in tree?.leaves ?? [] where isRecordKey(leaf.key) {
                    if let service = leaf.value.flatMap(announcement(forValue:)) { services[leaf.key] = service }
                }
                publisher.replaceAll(services)
                logger.debug("mDNS: discovery records read",
                             metadata: ["store.index": "\(index)", "mdns.services": "\(services.count)"])

                let events = try await store.watch(root, recursive: true, fromIndex: index + 1)
                for try await event in events.cancelOnGracefulShutdown() {
                    apply(event, to: publisher)
                    failures = 0
                }
                // The stream ended without an error: the store is shutting down, or we are.
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.debug("mDNS: discovery watch ended; re-reading")
            } catch let error as StoreError where error.code == .indexCleared {
                // The watch fell behind the kept history: what changed meanwhile is unknown, so re-read.
                logger.debug("mDNS: discovery watch outdated; re-reading", metadata: ["store.index": "\(error.index)"])
                continue
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                failures += 1
                logger.info("mDNS: reading discovery records failed; retrying",
                            metadata: ["store.key": "\(root)", "error": "\(error)"])
            }
            // Back off after failures (and after a watch that ended by itself): 0.2 s doubling to 5 s.
            try? await Task.sleep(for: .milliseconds(min(200 << min(failures, 5), 5_000)))
        }
    }

    private func apply(_ event: StoreEvent, to publisher: AvahiPublisher) {
        let key = event.node.key
        if event.isRemoval {
            if event.node.isDirectory { publisher.withdrawAll(under: key) } else { publisher.withdraw(key: key) }
            return
        }
        guard isRecordKey(key), !event.node.isDirectory else { return }
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

    /// `<root>/<service>/<instance>`: exactly two levels below the root.
    private func isRecordKey(_ key: String) -> Bool {
        let base = root == "/" ? "" : root
        guard key.hasPrefix(base + "/") else { return false }
        return key.dropFirst(base.count + 1).split(separator: "/", omittingEmptySubsequences: false).count == 2
    }
}
