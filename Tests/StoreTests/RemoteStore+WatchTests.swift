import FleetRemoteStore
import FleetStore
import FleetStoreTesting
import FleetStoreHTTP
import FleetTestSupport
import Testing

/// A remote watch whose connection goes silent (the server's watch delivers nothing, as over a
/// connection that died without a word) is re-issued from its index, on its own and under a
/// follower.
@Suite struct RemoteStoreWatchTests {
    @Test func aSilentWatchIsReissuedFromItsIndex() async throws {
        let backing = FaultyStore()
        backing.inject(.silent)
        try await withKeysServer(backing) { url in
            let remote = RemoteStore(url: url, watchIdleTimeout: .milliseconds(300))
            let events = try await remote.watch("/d", recursive: true, fromIndex: nil)
            try await backing.set("/d/a", "1")  // index 1; the first (silent) watch never sends it
            let got = try await firstEvents(events, count: 1, within: 5)
            #expect(got.map(\.index) == [1])
            #expect(remote.watchReissues.value >= 1)
            #expect(backing.watchCalls.prefix(2) == [nil, 1])  // "from now" at index 0, then from 1
        }
    }

    /// The request deadline covers the response head only: a watch quiet for longer than it
    /// still delivers what comes later.
    @Test func aQuietWatchOutlivesTheRequestTimeout() async throws {
        let backing = FaultyStore()
        try await withKeysServer(backing) { url in
            let remote = RemoteStore(url: url, requestTimeout: .seconds(1))
            let events = try await remote.watch("/d", recursive: true, fromIndex: nil)
            try await Task.sleep(for: .seconds(2))  // the quiet spell is what is tested
            try await backing.set("/d/a", "1")
            let got = try await firstEvents(events, count: 1, within: 5)
            #expect(got.map(\.index) == [1])
            #expect(remote.watchReissues.value == 0)
        }
    }

    /// A server that sends heartbeats keeps a quiet watch from being re-issued: it is heard,
    /// not silent. Asking for none, the same quiet spell re-issues it.
    @Test(arguments: [1, 0])
    func heartbeatsKeepAQuietWatch(heartbeatSeconds: Int) async throws {
        let backing = FaultyStore()
        try await withKeysServer(backing) { url in
            let remote = RemoteStore(url: url, watchIdleTimeout: .milliseconds(2500), watchHeartbeatSeconds: heartbeatSeconds)
            let events = try await remote.watch("/d", recursive: true, fromIndex: nil)
            try await Task.sleep(for: .milliseconds(5500))  // the quiet spell is what is tested
            try await backing.set("/d/a", "1")
            let got = try await firstEvents(events, count: 1, within: 5)
            #expect(got.map(\.index) == [1])
            if heartbeatSeconds > 0 {
                #expect(remote.watchReissues.value == 0, "a watch that hears heartbeats is not silent")
                #expect(backing.watchCalls.count == 1)
            } else {
                #expect(remote.watchReissues.value >= 2, "without heartbeats the quiet watch is re-issued")
            }
        }
    }

    /// Heartbeats promised and not heard (a frozen server, a dead connection): the watch is
    /// re-issued after three intervals, from its index, and still delivers what comes.
    @Test func aWatchWhoseHeartbeatsStopIsReissued() async throws {
        let backing = FaultyStore()
        try await withKeysServer(backing, withoutHeartbeats: true) { url in
            let remote = RemoteStore(url: url, watchHeartbeatSeconds: 1)
            let opened = ContinuousClock.now
            let events = try await remote.watch("/d", recursive: true, fromIndex: nil)
            #expect(remote.watchSilenceLimit == .seconds(3))
            let deadline = opened + .seconds(10)
            while remote.watchReissues.value == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(remote.watchReissues.value >= 1, "the unheard watch was not re-issued within 10 s")
            #expect(ContinuousClock.now - opened >= .milliseconds(2900), "not before three intervals")
            try await backing.set("/d/a", "1")
            let got = try await firstEvents(events, count: 1, within: 5)
            #expect(got.map(\.index) == [1])
            #expect(backing.watchCalls.prefix(2) == [nil, 1])
        }
    }

    /// A watch's silence limit is three heartbeats once the server has said it sends them, the
    /// idle timeout otherwise (before any watch, asking for none, or a server that does not).
    @Test func theSilenceLimitFollowsTheServersHeartbeats() async throws {
        try await withKeysServer(FaultyStore()) { url in
            let remote = RemoteStore(url: url, watchHeartbeatSeconds: 2)
            #expect(remote.watchSilenceLimit == .seconds(60))
            let events = try await remote.watch("/d", recursive: true, fromIndex: nil)
            #expect(remote.watchSilenceLimit == .seconds(6))
            _ = events
            let deaf = RemoteStore(url: url, watchHeartbeatSeconds: 0)
            let other = try await deaf.watch("/d", recursive: true, fromIndex: nil)
            #expect(deaf.watchSilenceLimit == .seconds(60))
            _ = other
        }
        try await withKeysServer(FaultyStore(), asOlderServer: true) { url in
            let remote = RemoteStore(url: url, watchHeartbeatSeconds: 2)
            let events = try await remote.watch("/d", recursive: true, fromIndex: nil)
            #expect(remote.watchSilenceLimit == .seconds(60), "a server that does not name heartbeats")
            _ = events
        }
    }

    /// A follower leaves a quiet watch be when the store bounds silence itself within the
    /// follower's bound (heartbeats every second: three seconds), and makes it anew otherwise.
    @Test(arguments: [1, 0])
    func aFollowerLeavesAHeardWatchBe(heartbeatSeconds: Int) async throws {
        let backing = FaultyStore()
        try await backing.set("/d/a", "0")
        try await withKeysServer(backing) { url in
            let remote = RemoteStore(url: url, watchHeartbeatSeconds: heartbeatSeconds)
            let counters = StoreFollowCounters()
            let options = StoreFollowOptions(maxSilence: .seconds(3), minRetryDelay: .milliseconds(5),
                                             maxRetryDelay: .milliseconds(50), counters: counters)
            let recorder = FollowRecorder(remote.follow("/d", options: options))
            await recorder.wait(for: "a snapshot") { $0.contains { $0.snapshotIndex == 1 } }
            try await Task.sleep(for: .milliseconds(7500))  // the quiet spell is what is tested
            try await backing.set("/d/b", "1")
            await recorder.wait(for: "the event") { $0.compactMap(\.storeEvent).count >= 1 }
            #expect(recorder.events.map(\.index) == [2])
            if heartbeatSeconds > 0 {
                #expect(counters.silences == 0, "watches from \(backing.watchCalls)")
                #expect(backing.watchCalls.count == 1, "watches from \(backing.watchCalls)")
            } else {
                #expect(counters.silences >= 2, "watches from \(backing.watchCalls)")
            }
            await recorder.stop()
        }
    }

    /// The follower over the keys API: snapshot, an outage of the watch, and a silent watch,
    /// and every change delivered once, in order.
    @Test func followsThroughTheKeysAPI() async throws {
        let backing = FaultyStore()
        try await backing.set("/d/a", "0")
        // Silent first, so that the silence bound cannot fire on the watch meant to break: the
        // second watch replays the writes made meanwhile and breaks after the first of them.
        backing.inject(.silent, .breakAfter(1, StoreError(.unavailable, "cut")))
        try await withKeysServer(backing) { url in
            let remote = RemoteStore(url: url)  // its own idle re-issue is left at a minute
            let counters = StoreFollowCounters()
            // 2 s: the replaying watch must answer within the bound, which a loaded machine
            // missed at 1 s (the bound fired again and the watch was made a third time from 2).
            let options = StoreFollowOptions(maxSilence: .seconds(2), minRetryDelay: .milliseconds(5),
                                             maxRetryDelay: .milliseconds(50), counters: counters)
            let recorder = FollowRecorder(remote.follow("/d", options: options))
            await recorder.wait(for: "a snapshot") { $0.contains { $0.snapshotIndex == 1 } }
            for n in 1...4 { try await backing.set("/d/\(n)", "\(n)") }
            await recorder.wait(for: "four events") { $0.compactMap(\.storeEvent).count >= 4 }
            #expect(recorder.events.map(\.index) == [2, 3, 4, 5])
            #expect(backing.watchCalls.prefix(3) == [2, 2, 3])
            #expect(counters.silences >= 1, "\(recorder.elements), watches from \(backing.watchCalls)")
            #expect(counters.restarts >= 1, "\(recorder.elements), watches from \(backing.watchCalls)")
            await recorder.stop()
        }
    }
}
