import FleetStore
import Metrics

/// The store as the registry uses it, counted: fleet's `fleet_registry_operation_count_total`,
/// `fleet_registry_operation_duration_second` and `fleet_registry_operation_failed_count_total`,
/// by type `get`, `get_all` (a recursive read), `set` (any write but a delete), `delete`.
/// Watches are long-lived streams, not operations, and are passed through uncounted.
public struct MeteredStore: KeyValueStore {
    public let base: any KeyValueStore
    /// One set of metrics per operation type, made once: every store call goes through here.
    private let metrics: [String: OperationMetrics]

    struct OperationMetrics: Sendable {
        let count: Counter
        let duration: Metrics.Timer
        let failed: Counter

        init(type: String, factory: any MetricsFactory) {
            count = Counter(label: "fleet_registry_operation_count_total", dimensions: [("type", type)], factory: factory)
            duration = Metrics.Timer(label: "fleet_registry_operation_duration_second", dimensions: [("ops", type)],
                                     preferredDisplayUnit: .seconds, factory: factory)
            failed = Counter(label: "fleet_registry_operation_failed_count_total", dimensions: [("type", type)],
                             factory: factory)
        }
    }

    public init(_ base: any KeyValueStore, factory: any MetricsFactory = MetricsSystem.factory) {
        self.base = base
        metrics = Dictionary(uniqueKeysWithValues: ["get", "get_all", "set", "delete"].map {
            ($0, OperationMetrics(type: $0, factory: factory))
        })
    }

    public func get(_ key: String, recursive: Bool) async throws -> StoreNode {
        try await measure(recursive ? "get_all" : "get") { try await base.get(key, recursive: recursive) }
    }

    public func apply(_ write: StoreWrite) async throws -> StoreEvent {
        try await measure(write.isDelete ? "delete" : "set") { try await base.apply(write) }
    }

    public func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try await base.watch(key, recursive: recursive, fromIndex: fromIndex)
    }

    public func currentIndex() async throws -> UInt64 { try await base.currentIndex() }

    public func supportsAttachedKeys() async -> Bool { await base.supportsAttachedKeys() }
    public var watchSilenceLimit: Duration? { base.watchSilenceLimit }

    func measure<T>(_ type: String, _ operation: () async throws -> T) async throws -> T {
        let metrics = self.metrics[type]!
        metrics.count.increment()
        let start = ContinuousClock.now
        do {
            let result = try await operation()
            let elapsed = ContinuousClock.now - start
            metrics.duration.recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            return result
        } catch {
            metrics.failed.increment()
            throw error
        }
    }
}

extension StoreWrite {
    fileprivate var isDelete: Bool {
        if case .delete = self { return true }
        return false
    }
}
