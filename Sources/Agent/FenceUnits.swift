/// The fence's systemd side, which works when fleetd cannot: a timer that the agent restarts
/// after every presence refresh that succeeds, and that otherwise fires shortly before
/// the TTL can run out and starts a target every fenced unit conflicts with, so systemd itself
/// stops those units even if fleetd is frozen (SIGSTOP, a stalled machine) or was killed.
///
/// Starting a fenced unit again stops the target (conflicts work both ways), so nothing needs
/// undoing when the machine is back.
enum FenceUnits {
    static let target = "fleet-fence.target"
    static let timer = "fleet-fence.timer"

    /// How long before ``Agent/Configuration/fenceAfter`` (counted from its re-arming, just after
    /// a refresh's answer) the timer fires: the in-process fence usually acts first.
    static let armingSlack: Duration = .milliseconds(250)

    static let targetText = """
        [Unit]
        Description=fleet: this machine lost the cluster; units with Isolation=stop are stopped
        DefaultDependencies=no
        RefuseManualStart=no

        """

    /// The timer, firing `after` its last (re)start.
    static func timerText(after: Duration) -> String {
        let milliseconds = max(100, after.components.seconds * 1000 + after.components.attoseconds / 1_000_000_000_000_000)
        return """
            [Unit]
            Description=fleet: the fence, re-armed by fleetd while this machine is in the cluster
            DefaultDependencies=no
            # Re-armed (restarted) every presence refresh: no start rate limit.
            StartLimitIntervalSec=0

            [Timer]
            OnActiveSec=\(milliseconds)ms
            AccuracySec=10ms
            Unit=\(target)

            """
    }

    /// Appended to a fenced unit's file: systemd stops it when the fence target starts.
    static let fencedSection = "\n[Unit]\nConflicts=\(target)\n"
}
