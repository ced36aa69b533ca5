import FleetStore
import Testing

struct StoreKeyTests {
    /// `lastSegment(of:is:)` is the byte-wise form of comparing `basename(of:)`; the registry
    /// finds a unit's children (ASCII names) with it. Bytes, not canonical equivalence: a
    /// decomposed `é` is another name, as it is another key in the store.
    @Test func lastSegmentAgreesWithBasename() {
        let keys = ["/fleet/job/web.service/object", "/fleet/job/web.service/target", "/object", "object",
                    "/a/b/c", "/a/bc", "/ab/c", "/", "", "/x/é", "/x/ée"]
        let names = ["object", "target", "c", "bc", "b/c", "", "é", "e", "x", "/object", "ée"]
        for key in keys {
            for name in names {
                #expect(StoreKey.lastSegment(of: key, is: name) == (StoreKey.basename(of: key) == name),
                        "key \(key), name \(name)")
            }
        }
    }
}
