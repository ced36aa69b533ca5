/// When the zone feed builds its next view: at once for a change after a quiet spell, spaced
/// out while changes keep coming.
///
/// A view costs a rebuild of every name a change touched, and a service's names grow with its
/// instances: in a start of 200 instances every fleetd rebuilt them 40 to 140 times (each change
/// arriving after the last build had finished was built at once), about a tenth of the fleetds'
/// CPU in that start. Now a change within `gap` of the last build waits for the gap to end, and
/// each such wait doubles the gap, up to `maxGap`: a burst is built every 10, 20, 40, then 50 ms,
/// so names appear at most `maxGap` late while it lasts. A change after a whole gap of quiet
/// finds the gap back at `minGap` and is built at once.
struct ZoneBuildPacer {
    let minGap: Duration
    let maxGap: Duration
    private var lastBuild: ContinuousClock.Instant?
    private var gap: Duration

    init(minGap: Duration, maxGap: Duration) {
        self.minGap = minGap
        self.maxGap = max(minGap, maxGap)
        gap = minGap
    }

    /// When to build a change that arrived at `now` (`now` itself: at once).
    mutating func buildTime(forChangeAt now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard let lastBuild, now - lastBuild < gap else {
            gap = minGap
            return now
        }
        defer { gap = min(gap * 2, maxGap) }
        return lastBuild + gap
    }

    /// A view was built and published at `time`.
    mutating func built(at time: ContinuousClock.Instant) {
        lastBuild = time
    }
}
