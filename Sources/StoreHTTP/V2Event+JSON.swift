import FleetHTTPServer
import FleetRemoteStore

extension V2Event {
    /// The document ``V2JSON/encoder`` writes (etcd's omissions, slashes as they are), written by
    /// hand (``JSONText``) and with its members in etcd's order (the encoder's was its dictionary's,
    /// different on each run): every keys-API write answers with one, and every watch sends one
    /// per change to each watcher, so `JSONEncoder` was a few per cent of the store machine's CPU
    /// in a start of 200 units and at idle. `V2EventJSONTests` compares it with the encoder's.
    var jsonBytes: [UInt8] {
        var json = JSONText(reservingCapacity: 192 + (node.value?.utf8.count ?? 0) + (prevNode?.value?.utf8.count ?? 0))
        write(to: &json)
        return json.bytes
    }

    /// The event as a value inside a larger document (a batch's answers).
    func write(to json: inout JSONText) {
        json.object { event in
            event.member("action", action)
            event.key("node")
            node.write(to: &event)
            if let prevNode {
                event.key("prevNode")
                prevNode.write(to: &event)
            }
        }
    }
}

extension V2Error {
    /// As ``V2JSON/encoder`` writes it.
    func write(to json: inout JSONText) {
        json.object { fields in
            fields.member("errorCode", errorCode)
            fields.member("message", message)
            fields.member("cause", cause)
            fields.member("index", index)
        }
    }
}

extension V2Node {
    /// As ``V2Node/encode(to:)``: the root without its key and indexes, a zero index left out.
    func write(to json: inout JSONText) {
        json.object { fields in
            let isRoot = key == "/"
            if !isRoot { fields.member("key", key) }
            fields.member("value", value)
            fields.member("dir", dir)
            fields.member("expiration", expiration)
            fields.member("ttl", ttl)
            if let nodes {
                fields.key("nodes")
                fields.array(nodes) { json, node in node.write(to: &json) }
            }
            if !isRoot, modifiedIndex != 0 { fields.member("modifiedIndex", modifiedIndex) }
            if !isRoot, createdIndex != 0 { fields.member("createdIndex", createdIndex) }
        }
    }
}
