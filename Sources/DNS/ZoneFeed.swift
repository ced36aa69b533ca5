import FleetDiscovery
import FleetStore
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the published ``ZoneView`` in step with the discovery records in the store.
///
/// It follows `/discovery` with ``KeyValueStore/follow(_:recursive:options:)``: one recursive
/// read, then the changes from the index it read at; the responder never reads the store
/// itself. The follower reads everything again when the store's history no longer reaches
/// back (`indexCleared`), retries failures with back-off from `retryDelay` up, resuming from
/// the last index seen, and re-makes a watch silent for 30 s, so no event is lost or applied
/// out of order and a dead connection does not freeze the zone.
///
/// Two tasks share the work: one follows the store and queues what it reads; the other applies
/// everything queued to a ``ZoneBuilder`` and publishes one view; what arrived while a view was
/// built is applied and encoded together, so the view catches up with a burst instead of
/// falling further behind. A change is published as soon as it is applied, except after a large
/// view while changes keep coming (a burst: 200 instances of one service starting, whose names
/// grow with the instances): ``ZoneBuildPacer`` then spaces the builds by the size of the last.
public struct ZoneFeed: Service {
    public let store: any KeyValueStore
    public let settings: ZoneSettings
    public let publisher: ZonePublisher
    /// Where records live (`/discovery`).
    public let prefix: String
    public let retryDelay: Duration
    /// How builds are spaced while changes keep coming.
    let pacing: ZoneBuildPacer
    private let logger: Logger

    public init(store: any KeyValueStore, settings: ZoneSettings, publisher: ZonePublisher,
                prefix: String = DiscoveryKeys.standard.root, retryDelay: Duration = .milliseconds(100),
                logger: Logger) {
        self.init(store: store, settings: settings, publisher: publisher, prefix: prefix, retryDelay: retryDelay,
                  pacing: ZoneBuildPacer(), logger: logger)
    }

    init(store: any KeyValueStore, settings: ZoneSettings, publisher: ZonePublisher, prefix: String,
         retryDelay: Duration, pacing: ZoneBuildPacer, logger: Logger) {
        self.pacing = pacing
        self.store = store
        self.settings = settings
        self.publisher = publisher
        self.prefix = prefix
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public func run() async throws {
        let queue = ChangeQueue()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await follow(into: queue) }
            group.addTask { await build(from: queue) }
            try await group.next()  // the follower ends on shutdown or cancellation...
            queue.finish()          // ...then the builder publishes what is left and ends
            try await group.waitForAll()
        }
    }

    // MARK: Following the store

    private func follow(into queue: ChangeQueue) async throws {
        defer { queue.finish() }
        let options = StoreFollowOptions(minRetryDelay: retryDelay, maxRetryDelay: max(retryDelay, .seconds(5)),
                                         counters: StoreFollowCounters(follower: "dns"))
        for try await change in store.follow(prefix, recursive: true, options: options).cancelOnGracefulShutdown() {
            switch change {
            case let .snapshot(root, index):
                let loaded = Self.records(in: root)
                queue.push(.replace(loaded.records, index: index, rejected: loaded.rejected))
            case let .event(event):
                queue.push(.event(event))
            case let .lost(error):
                logger.warning("discovery watch failed; retrying", metadata: ["dns.error": "\(error)"])
            case .restored:
                logger.info("discovery watch restored")
            }
        }
    }

    /// The records under `root`, and how many values there were not records.
    private static func records(in root: StoreNode?) -> (records: [(key: String, record: DiscoveryRecord)], rejected: Int) {
        var records: [(key: String, record: DiscoveryRecord)] = []
        var rejected = 0
        for leaf in root?.leaves ?? [] {
            guard let value = leaf.value, let record = DiscoveryRecord.decode(value) else {
                rejected += 1
                continue
            }
            records.append((leaf.key, record))
        }
        return (records, rejected)
    }

    // MARK: Building views

    private func build(from queue: ChangeQueue) async {
        var builder = ZoneBuilder(settings: settings)
        var loaded = false
        var pacer = pacing
        for await _ in queue.signals {
            guard queue.hasPending else { continue }  // signalled for changes the last drain took
            let buildTime = pacer.buildTime(forChangeAt: .now)
            if ContinuousClock.now < buildTime {
                try? await Task.sleep(until: buildTime)  // let the burst collect
            }
            var changed = false
            for change in queue.drain() {
                switch change {
                case let .replace(records, index, rejected):
                    builder.replaceAll(records)
                    loaded = true
                    logger.info("discovery records loaded", metadata: [
                        "store.index": "\(index)", "dns.records": "\(builder.recordCount)",
                        "dns.ignored": "\(records.count - builder.recordCount + rejected)",
                    ])
                case let .event(event):
                    apply(event, to: &builder)
                }
                changed = true
            }
            // Until the first load, keep serving the not-ready view (SERVFAIL), not an empty zone.
            if changed && loaded {
                publisher.publish(builder.view())
                pacer.built(at: .now, encodedRecords: builder.lastEncodedRecords)
            }
        }
    }

    private func apply(_ event: StoreEvent, to builder: inout ZoneBuilder) {
        let key = event.node.key
        if event.isRemoval {
            if event.node.isDirectory { builder.removeAll(under: key) } else { builder.remove(key: key) }
            return
        }
        guard let value = event.node.value else { return }  // a directory was made
        guard let record = DiscoveryRecord.decode(value) else {
            logger.warning("ignoring a discovery value that is not a record", metadata: ["store.key": "\(key)"])
            builder.remove(key: key)
            return
        }
        if !builder.upsert(record, key: key) {
            logger.warning("ignoring a discovery record DNS cannot serve (names must be labels, address an IP)",
                           metadata: ["store.key": "\(key)"])
        }
    }
}

/// What the follower hands the builder, in store order.
enum ZoneChange: Sendable {
    case replace([(key: String, record: DiscoveryRecord)], index: UInt64, rejected: Int)
    case event(StoreEvent)
}

/// A queue whose consumer is woken once for any number of pushes since it last drained:
/// the lock is held only to append or to take everything.
final class ChangeQueue: Sendable {
    private let changes = Mutex<[ZoneChange]>([])
    let signals: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (signals, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func push(_ change: ZoneChange) {
        changes.withLock { $0.append(change) }
        continuation.yield()
    }

    /// True when changes are waiting (more arrived while the last batch was applied).
    var hasPending: Bool { changes.withLock { !$0.isEmpty } }

    func drain() -> [ZoneChange] {
        changes.withLock { changes in
            defer { changes = [] }
            return changes
        }
    }

    func finish() { continuation.finish() }
}
