/// When the zone feed builds its next view: at once, unless the last view was a large one and
/// changes keep coming.
///
/// A view re-encodes every name a change touched, in full, and a service's names hold all its
/// instances: during a start of 200 instances of one service every fleetd built a view for
/// nearly every change (30 to 140 views in that start, each re-encoding the service's names
/// with up to 200 records), about a tenth of the fleetds' CPU. So a view that encoded at least
/// `threshold` records is followed by a gap of `gapPerRecord` for each of them (at most
/// `maxGap`), in which the next changes collect and are applied together: 200 records, 40 ms.
/// Smaller views are not spaced at all, so a change to a small or medium service is answered as
/// soon as it is applied, however close the changes come; a change after the gap is built at
/// once. No change waits more than `maxGap` for its view.
///
/// The cost is counted in records rather than timed, so the same changes are paced the same
/// way on any machine and under any load.
struct ZoneBuildPacer {
    let threshold: Int
    let gapPerRecord: Duration
    let maxGap: Duration
    private var lastBuild: ContinuousClock.Instant?
    private(set) var currentGap: Duration = .zero

    init(threshold: Int = 64, gapPerRecord: Duration = .microseconds(200), maxGap: Duration = .milliseconds(50)) {
        self.threshold = max(0, threshold)
        self.gapPerRecord = gapPerRecord
        self.maxGap = maxGap
    }

    /// When to build a change that arrived at `now` (`now` itself: at once).
    func buildTime(forChangeAt now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard let lastBuild, now - lastBuild < currentGap else { return now }
        return lastBuild + currentGap
    }

    /// A view that encoded `records` records was published at `time`.
    mutating func built(at time: ContinuousClock.Instant, encodedRecords records: Int) {
        lastBuild = time
        currentGap = records < threshold ? .zero : min(gapPerRecord * records, maxGap)
    }
}
