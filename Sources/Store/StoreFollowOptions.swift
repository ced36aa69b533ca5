import Metrics
import Synchronization

/// How a ``StoreFollower`` bounds silence, retries and the events it holds for its consumer.
public struct StoreFollowOptions: Sendable {
    /// The longest time the watch may deliver nothing before it is made anew from the last index
    /// plus one (cheap and lossless). A watch over a connection that died without a word (a
    /// network cut, a frozen server) would otherwise wait forever; nil never re-makes it.
    public var maxSilence: Duration?
    /// The first pause after a failure; each further failure doubles it, up to ``maxRetryDelay``.
    /// Every pause is jittered down to half its length, so followers that failed together do
    /// not all come back at the same instant.
    public var minRetryDelay: Duration
    public var maxRetryDelay: Duration
    /// Follow events held for a consumer that reads slower than the store changes. One more and
    /// the follower reloads: the consumer then gets a new snapshot instead of the events it missed.
    public var maxPendingEvents: Int
    /// Counts re-made watches, if the caller wants them (metrics, tests).
    public var counters: StoreFollowCounters?

    public static let defaultMaxSilence = Duration.seconds(30)

    /// Out-of-range values are raised: delays to at least 1 ms, the maximum to the minimum, the
    /// pending events to 1, the silence bound to 10 ms.
    public init(maxSilence: Duration? = defaultMaxSilence, minRetryDelay: Duration = .milliseconds(100),
                maxRetryDelay: Duration = .seconds(5), maxPendingEvents: Int = WatchLimits.defaultMaxPendingEvents,
                counters: StoreFollowCounters? = nil) {
        self.maxSilence = maxSilence.map { max($0, .milliseconds(10)) }
        self.minRetryDelay = max(minRetryDelay, .milliseconds(1))
        self.maxRetryDelay = max(maxRetryDelay, self.minRetryDelay)
        self.maxPendingEvents = max(1, maxPendingEvents)
        self.counters = counters
    }

    /// The pause before retry number `failures` (1 for the first): exponential, capped, and
    /// jittered into its upper half.
    func retryDelay(afterFailures failures: Int) -> Duration {
        let doubled = minRetryDelay * (1 << min(max(failures - 1, 0), 20))
        let capped = min(doubled, maxRetryDelay)
        return capped * Double.random(in: 0.5...1.0)
    }
}

/// What a follower did besides delivering events: outages, and how often its watch was made
/// anew, and why. Shared by reference, so one set can count for several followers.
///
/// Created with a `follower` name, each count is also a swift-metrics counter (fleetd serves
/// them on `/metrics`): `fleet_store_follow_outages_total`, `fleet_store_follow_restarts_total`,
/// `fleet_store_follow_reloads_total`, `fleet_store_follow_silences_total`, each `{follower}`.
public final class StoreFollowCounters: Sendable {
    struct Counts {
        var outages = 0, restarts = 0, reloads = 0, silences = 0
    }

    private let counts = Mutex(Counts())
    private let metrics: (outages: Counter, restarts: Counter, reloads: Counter, silences: Counter)?

    /// - Parameters:
    ///   - follower: what follows (`engine`, `agent`, `dns`, `mdns`): the metrics' dimension;
    ///     nil keeps the counts here only.
    ///   - factory: where the metrics go.
    public init(follower: String? = nil, factory: any MetricsFactory = MetricsSystem.factory) {
        metrics = follower.map { name in
            func counter(_ what: String) -> Counter {
                Counter(label: "fleet_store_follow_\(what)_total", dimensions: [("follower", name)], factory: factory)
            }
            return (counter("outages"), counter("restarts"), counter("reloads"), counter("silences"))
        }
    }

    /// Outages: runs of failures, each reported once as ``StoreFollowEvent/lost(_:)``.
    public var outages: Int { counts.withLock { $0.outages } }
    /// Watches made anew after an error.
    public var restarts: Int { counts.withLock { $0.restarts } }
    /// Snapshots read again after the first (the history was compacted, or the consumer fell behind).
    public var reloads: Int { counts.withLock { $0.reloads } }
    /// Watches made anew because they were silent for ``StoreFollowOptions/maxSilence``.
    public var silences: Int { counts.withLock { $0.silences } }

    func lost() { bump(\.outages, metrics?.outages) }
    func restarted() { bump(\.restarts, metrics?.restarts) }
    func reloaded() { bump(\.reloads, metrics?.reloads) }
    func silenced() { bump(\.silences, metrics?.silences) }

    private func bump(_ count: WritableKeyPath<Counts, Int>, _ metric: Counter?) {
        counts.withLock { $0[keyPath: count] += 1 }
        metric?.increment()
    }
}
