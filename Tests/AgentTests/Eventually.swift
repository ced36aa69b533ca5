import Testing

/// Waits until `condition` holds, failing the test with `what` after 20 s (polled every 20 ms): a
/// bound with room for a busy machine (the suite runs 16 tests at once on two cores; 10 s ran
/// out with the cores also busy elsewhere). A passing test waits no longer for it.
func eventually(_ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting until \(what)")
}
