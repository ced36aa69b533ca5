import FleetStore
import Testing

/// The watches an event reaches (issue 16: watches are found by key, not by trying every one).
@Suite struct StoreWatchersTests {
    @Test func anEventReachesTheWatchesOnItsKeyAndAncestorsAndADirectoryRemovalThoseBelow() async throws {
        var watchers = StoreWatchers()
        let specs: [(String, Bool)] = [("/", true), ("/a", true), ("/a", false), ("/a/b", false), ("/a/c", true),
                                       ("/x", true), ("/a/b/c", true)]
        var streams: [String: AsyncThrowingStream<StoreEvent, any Error>] = [:]
        for (key, recursive) in specs {
            streams["\(key) \(recursive)"] = try watchers.open(key: key, recursive: recursive, fromIndex: nil, currentIndex: 0,
                                                              oldestIndex: 0, replay: { _ in [] }, onEnd: { _ in })
        }
        watchers.deliver(StoreEvent(action: .set, node: StoreNode(key: "/a/b", value: "1", createdIndex: 1, modifiedIndex: 1)))
        watchers.deliver(StoreEvent(action: .delete, node: StoreNode(key: "/a", isDirectory: true, createdIndex: 1,
                                                                     modifiedIndex: 2)))
        watchers.finishAll()
        var seen: [String: [UInt64]] = [:]
        for (name, stream) in streams {
            for try await event in stream { seen[name, default: []].append(event.index) }
        }
        #expect(seen["/ true"] == [1, 2])
        #expect(seen["/a true"] == [1, 2])
        #expect(seen["/a false"] == [2], "a watch on /a alone hears of /a, not of /a/b")
        #expect(seen["/a/b false"] == [1, 2])
        #expect(seen["/a/c true"] == [2], "only the removal of the directory above reaches it")
        #expect(seen["/a/b/c true"] == [2])
        #expect(seen["/x true"] == nil)
    }
}
