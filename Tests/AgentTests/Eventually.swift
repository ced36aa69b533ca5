import Testing

/// Waits until `condition` holds, failing the test with `what` after 10 s (polled every 20 ms): a
/// bound with room for a busy machine (the whole suite runs in parallel on two cores).
func eventually(_ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting until \(what)")
}
