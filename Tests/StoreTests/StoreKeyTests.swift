@testable import FleetStore
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

    /// The canonical-key shortcut gives what splitting and joining gives, for any key: random
    /// ones from the characters that matter, and the limits' edges.
    @Test func theCanonicalShortcutAgreesWithSplitting() {
        func normalized(_ raw: String, _ normalize: (String) throws(StoreError) -> String) -> String {
            do { return try normalize(raw) } catch { return "error \(error.code)" }
        }
        var generator = SystemRandomNumberGenerator()
        // With combining marks too: after a slash one makes a single character with it.
        let pieces = ["/", "/", ".", "a", "é", "..", "/.", "b/", "\u{301}", "/\u{301}"]
        var keys = ["/", "", ".", "/.", "/..", "/...", "/a/./b", "/a/../b", "//a", "/a//b", "/a/", "a/b", "/.a", "/a.", "/..a",
                    "/\u{301}a", "/a/\u{301}b", "/é/x",
                    "/" + String(repeating: "x", count: StoreLimits.maximumKeyBytes - 1),
                    "/" + String(repeating: "x", count: StoreLimits.maximumKeyBytes),
                    String(repeating: "/a", count: StoreLimits.maximumKeyDepth),
                    String(repeating: "/a", count: StoreLimits.maximumKeyDepth + 1)]
        for _ in 0..<5000 {
            keys.append((0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined())
        }
        for key in keys {
            #expect(normalized(key, StoreKey.normalize) == normalized(key, StoreKey.normalizeBySplitting), "key \(key)")
            if StoreKey.isCanonical(key) { #expect(normalized(key, StoreKey.normalizeBySplitting) == key) }
        }
    }
}
