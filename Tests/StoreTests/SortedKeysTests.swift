@testable import FleetStore
import Testing

/// A directory's children stay in the order `Set.sorted()` gave them on every read, through any
/// mix of insertions and removals.
@Suite struct SortedKeysTests {
    @Test func keysStayInTheOrderSortingGives() {
        var keys: SortedKeys = []
        var reference = Set<String>()
        var generator = SystemRandomNumberGenerator()
        let names = (0..<300).map { "/fleet/job/web@\($0).service" } + ["/a", "/b/é", "/B", "/b", "/ä", "/z\u{301}"]
        for _ in 0..<3000 {
            let name = names.randomElement(using: &generator)!
            if Bool.random(using: &generator) {
                keys.insert(name)
                reference.insert(name)
            } else {
                keys.remove(name)
                reference.remove(name)
            }
        }
        #expect(Array(keys) == reference.sorted())
        #expect(keys.count == reference.count)
        for name in names { #expect(keys.contains(name) == reference.contains(name)) }
    }

    @Test func insertingAKeyTwiceKeepsOneAndRemovingAMissingOneDoesNothing() {
        var keys: SortedKeys = ["/c", "/a"]
        keys.insert("/a")
        keys.insert("/b")
        keys.remove("/missing")
        #expect(Array(keys) == ["/a", "/b", "/c"])
        keys.remove("/a"); keys.remove("/b"); keys.remove("/c")
        #expect(keys.isEmpty)
    }

    @Test func aRestoredTreeListsChildrenInOrder() throws {
        let rows = (0..<50).reversed().map { (key: "/d/k\($0)", entry: StoreTree.Entry(value: "v", createdIndex: 1, modifiedIndex: 1)) }
            + [(key: "/d", entry: StoreTree.Entry(value: nil, createdIndex: 1, modifiedIndex: 1))]
        let tree = try StoreTree(restoring: rows, index: 1)
        #expect(tree.node("/d", depth: 1).nodes?.map(\.key) == (0..<50).map { "/d/k\($0)" }.sorted())
    }
}
