import Metrics

/// fleet's engine metrics (namespace `fleet`, as fleet's `/metrics` had them), through
/// swift-metrics: fleetd hands in a Prometheus factory, tests a recording one.
///
/// * `fleet_engine_leader_start_time`: when this machine last became the leader (Unix seconds), 0 when not leading
/// * `fleet_engine_reconcile_count_total`, `fleet_engine_reconcile_duration_second` (histogram)
/// * `fleet_engine_reconcile_failure_count_total{type}`: `run` (a pass failed), `schedule` (a unit
///   could not be placed), `machine_away` (units taken off a machine that left)
/// * `fleet_engine_leadership_lost_count_total{reason}`: this machine stopped leading, by reason
///   `renewal_overdue` (it stalled past its lease), `renewal_failed`, `taken_over`, `guard_failed`
///   (a fenced write found the lease gone)
/// * `fleet_engine_task_count_total{type}` and `fleet_engine_task_failure_count_total{type}`: the
///   pass's writes, by type `schedule`, `unschedule`, `assign`, `unassign`
public struct EngineMetrics: Sendable {
    let factory: any MetricsFactory
    let leaderStartTime: Gauge
    let reconcileCount: Counter
    let reconcileDuration: Metrics.Timer

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        leaderStartTime = Gauge(label: "fleet_engine_leader_start_time", factory: factory)
        reconcileCount = Counter(label: "fleet_engine_reconcile_count_total", factory: factory)
        reconcileDuration = Metrics.Timer(label: "fleet_engine_reconcile_duration_second", preferredDisplayUnit: .seconds,
                                          factory: factory)
    }

    func leadership(startedAt unixSeconds: Double?) { leaderStartTime.record(unixSeconds ?? 0) }

    func leadershipLost(_ reason: String) {
        leaderStartTime.record(0)
        Counter(label: "fleet_engine_leadership_lost_count_total", dimensions: [("reason", reason)], factory: factory)
            .increment()
    }

    func reconciled(in duration: Duration) {
        reconcileCount.increment()
        reconcileDuration.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    func reconcileFailed(_ type: String, count: Int = 1) {
        guard count > 0 else { return }
        Counter(label: "fleet_engine_reconcile_failure_count_total", dimensions: [("type", type)], factory: factory)
            .increment(by: count)
    }

    func tasks(_ type: String, count: Int) {
        guard count > 0 else { return }
        Counter(label: "fleet_engine_task_count_total", dimensions: [("type", type)], factory: factory).increment(by: count)
    }

    func taskFailed(_ type: String) {
        Counter(label: "fleet_engine_task_failure_count_total", dimensions: [("type", type)], factory: factory).increment()
    }
}
