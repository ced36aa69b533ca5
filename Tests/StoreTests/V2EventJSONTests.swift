import FleetRemoteStore
import FleetStore
import Foundation
import Testing
@testable import FleetStoreHTTP

/// The keys API's answers and watch events written by hand (``V2Event/jsonBytes``) say what
/// ``V2JSON/encoder`` said: the same document (the encoder's member order is its dictionary's,
/// different from run to run; the hand-written one is etcd's), the same values for any string.
@Suite struct V2EventJSONTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000.25)

    /// Whether the two documents are the same JSON value, member order aside.
    func sameDocument(_ v2: V2Event) throws -> Bool {
        let mine = try JSONSerialization.jsonObject(with: Data(v2.jsonBytes)) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: try V2JSON.encoder.encode(v2)) as? NSDictionary
        return mine != nil && mine == theirs
    }

    func node(_ key: String, _ value: String?, ttl: Double? = nil, nodes: [StoreNode]? = nil, index: UInt64 = 7) -> StoreNode {
        StoreNode(key: key, value: value, isDirectory: value == nil, nodes: nodes, createdIndex: index / 2,
                  modifiedIndex: index, expiration: ttl.map { now.addingTimeInterval($0) })
    }

    var examples: [StoreEvent] {
        let record = #"{"ID":"0123456789abcdef0123456789abcdef","PublicIP":"10.77.0.12","Metadata":{"role":"web"}}"#
        return [
            // a presence refresh's answer: node and prevNode, with TTL and expiration
            StoreEvent(action: .update, node: node("/fleet/machines/m2/object", record, ttl: 10),
                       prevNode: node("/fleet/machines/m2/object", record, ttl: 3.5)),
            StoreEvent(action: .set, node: node("/fleet/job/web@1.service/target", "m2")),
            StoreEvent(action: .create, node: node("/fleet/lease/engine-leader", "m1", ttl: 10, index: 1)),
            StoreEvent(action: .delete, node: node("/fleet/state/web@1.service/m2", nil),
                       prevNode: node("/fleet/state/web@1.service/m2", "{}")),
            StoreEvent(action: .expire, node: node("/fleet/machines/m3/object", nil, index: 0)),
            StoreEvent(action: .compareAndSwap, node: node("/a", "", ttl: 0.5)),
            // a recursive read: nested directories, an empty one, the root without key or indexes
            StoreEvent(action: .get, node: node("/", nil, nodes: [
                node("/fleet", nil, nodes: [node("/fleet/job", nil, nodes: []), node("/fleet/x", "y", ttl: 100)]),
                node("/discovery", nil, nodes: [node("/discovery/web/m1", #"{"host":"10.77.0.11","port":80}"#)]),
            ], index: 0)),
            StoreEvent(action: .get, node: node("/", nil, nodes: [], index: 0)),
        ]
    }

    @Test func anEventIsTheDocumentTheEncoderWrote() throws {
        for event in examples {
            let v2 = V2Event(event, now: now)
            #expect(try sameDocument(v2), "\(String(decoding: v2.jsonBytes, as: UTF8.self))")
        }
    }

    @Test func membersComeInEtcdsOrder() {
        let event = StoreEvent(action: .update, node: node("/fleet/machines/m2/object", "{}", ttl: 10),
                               prevNode: node("/d", nil, nodes: [node("/d/k", "v")], index: 9))
        let text = String(decoding: V2Event(event, now: now).jsonBytes, as: UTF8.self)
        #expect(text == #"{"action":"update","node":{"key":"/fleet/machines/m2/object","value":"{}","#
            + #""expiration":"2026-05-28T20:26:50.250Z","ttl":10,"modifiedIndex":7,"createdIndex":3},"#
            + #""prevNode":{"key":"/d","dir":true,"nodes":[{"key":"/d/k","value":"v","modifiedIndex":7,"createdIndex":3}],"#
            + #""modifiedIndex":9,"createdIndex":4}}"#)
    }

    @Test func randomEventsAreTheDocumentsTheEncoderWrote() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019 /@.:_-{}[]\",\\é€😀")
        func text() -> String { String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }) }
        func randomNode(depth: Int) -> StoreNode {
            let key = "/" + text().replacingOccurrences(of: "/", with: "")
            if depth > 0, Bool.random(using: &generator) {
                return node(key, nil, nodes: (0..<Int.random(in: 0...3, using: &generator)).map { _ in randomNode(depth: depth - 1) },
                            index: UInt64.random(in: 0...UInt64.max, using: &generator))
            }
            return node(key, text(), ttl: Bool.random(using: &generator) ? Double.random(in: -5...1e6, using: &generator) : nil,
                        index: UInt64.random(in: 0...UInt64.max, using: &generator))
        }
        for _ in 0..<500 {
            let actions: [StoreAction] = [.get, .set, .create, .update, .compareAndSwap, .delete, .compareAndDelete, .expire]
            let event = StoreEvent(action: actions.randomElement(using: &generator)!, node: randomNode(depth: 3),
                                   prevNode: Bool.random(using: &generator) ? randomNode(depth: 0) : nil)
            let v2 = V2Event(event, now: now)
            #expect(try sameDocument(v2), "\(String(decoding: v2.jsonBytes, as: UTF8.self))")
        }
    }

    @Test func hostileStringsSurviveTheRoundTrip() throws {
        var control = ""
        for scalar in 0..<0x20 { control.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        for text in ["quote \" backslash \\ slash /", control, "\u{7F}\u{80}\u{2028}\u{2029}", "\"},\"action\":\"delete"] {
            let event = StoreEvent(action: .set, node: node("/k" + text, text, ttl: 5), prevNode: node("/p", text))
            let bytes = V2Event(event, now: now).jsonBytes
            let decoded = try JSONDecoder().decode(V2Event.self, from: Data(bytes))
            #expect(decoded.storeEvent == StoreEvent(action: .set, node: V2Event(event, now: now).node.storeNode,
                                                     prevNode: V2Event(event, now: now).prevNode?.storeNode))
            #expect(decoded.node.value == text && decoded.node.key == "/k" + text && decoded.prevNode?.value == text)
        }
    }
}
