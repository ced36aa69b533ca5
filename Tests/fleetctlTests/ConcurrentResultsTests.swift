import Testing
@testable import fleetctl

/// Issue 16: `destroy` (and the lookups of `stop`/`unload`) send their requests together, bounded,
/// yet report in argument order as fleet does when it sends them one at a time.
@Suite struct ConcurrentResultsTests {
    struct Refused: Error, Equatable { var name: String }

    /// Counts requests in flight, to check the bound.
    actor InFlight {
        var now = 0, most = 0
        func enter() { now += 1; most = max(most, now) }
        func leave() { now -= 1 }
    }

    @Test func outcomesKeepArgumentOrderWhateverOrderTheyFinishIn() async {
        let items = Array(0..<40)
        // Later items answer first.
        let results = await concurrentResults(items, limit: 8) { item in
            try await Task.sleep(for: .milliseconds(40 - item))
            if item == 7 { throw Refused(name: "7") }
            return item * 2
        }
        #expect(results.count == items.count)
        for (item, result) in zip(items, results) {
            if item == 7 {
                #expect(throws: Refused(name: "7")) { try result.get() }
            } else {
                #expect((try? result.get()) == item * 2)
            }
        }
    }

    @Test func noMoreThanTheLimitRunAtOnce() async {
        let inFlight = InFlight()
        let results = await concurrentResults(Array(0..<100), limit: 5) { _ in
            await inFlight.enter()
            try await Task.sleep(for: .milliseconds(2))
            await inFlight.leave()
        }
        #expect(results.count == 100)
        let most = await inFlight.most
        #expect(most <= 5, "at most 5 requests in flight, saw \(most)")
        #expect(most > 1, "requests ran one at a time")
    }

    @Test func noItemsNoRequests() async {
        let results = await concurrentResults([Int](), limit: 4) { $0 }
        #expect(results.isEmpty)
    }

    @Test func destroyPrintsFleetsLinesInArgumentOrderUpToTheFirstFailure() {
        let outcome = DestroyOutcome(
            names: ["a.service", "gone.service", "b.service", "bad.service", "c.service"],
            results: [.success(true), .success(false), .success(true), .failure(Refused(name: "bad")), .success(true)])
        #expect(outcome.printed == ["Destroyed a.service", "Destroyed gone.service", "Destroyed b.service"])
        // A unit that was not in the registry has nothing to wait for; units after the failure are not waited for.
        #expect(outcome.destroyed == ["a.service", "b.service"])
        #expect(outcome.failure as? Refused == Refused(name: "bad"))
    }

    @Test func aUnitNamedTwiceIsWaitedForOnce() {
        let outcome = DestroyOutcome(names: ["a.service", "a.service"], results: [.success(false), .success(true)])
        #expect(outcome.printed == ["Destroyed a.service", "Destroyed a.service"])
        #expect(outcome.destroyed == ["a.service"])
        #expect(outcome.failure == nil)
    }
}
