import Foundation
import NIOCore

// EtcdWire's requests and answers in protobuf, for etcd's gRPC API. Field numbers are those of
// etcd's `etcdserverpb` (rpc.proto) and `mvccpb` (kv.proto) messages; the JSON gateway carries
// the same messages, so both transports fill the same Swift types.

/// A request that can go to etcd as a gRPC call.
protocol EtcdProtobufRequest: Sendable {
    func encode(to writer: inout ProtobufWriter)
}

/// An answer that can be read from a gRPC call's message.
protocol EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws
}

extension EtcdProtobufRequest {
    var protobuf: ByteBuffer {
        var writer = ProtobufWriter()
        encode(to: &writer)
        return writer.buffer
    }
}

/// The gateway's 64-bit integers travel as decimal strings in EtcdWire; a string that is not one
/// is a bug in the caller, sent as 0 (etcd's default) rather than trapping.
private func int64(_ text: String?) -> Int64 {
    text.flatMap { Int64($0) } ?? 0
}

// MARK: Requests

extension EtcdRangeRequest: EtcdProtobufRequest {
    static let sortOrders: [String: Int64] = ["NONE": 0, "ASCEND": 1, "DESCEND": 2]
    static let sortTargets: [String: Int64] = ["KEY": 0, "VERSION": 1, "CREATE": 2, "MOD": 3, "VALUE": 4]

    func encode(to writer: inout ProtobufWriter) {
        writer.bytes(1, key)
        writer.bytes(2, rangeEnd ?? Data())
        writer.int(3, int64(limit))
        writer.int(4, int64(revision))
        writer.int(5, sortOrder.flatMap { Self.sortOrders[$0] } ?? 0)
        writer.int(6, sortTarget.flatMap { Self.sortTargets[$0] } ?? 0)
        writer.bool(8, keysOnly ?? false)
        writer.bool(9, countOnly ?? false)
    }
}

extension EtcdPutRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        writer.bytes(1, key)
        writer.bytes(2, value ?? Data())
        writer.int(3, int64(lease))
        writer.bool(4, prevKV ?? false)
        writer.bool(5, ignoreValue ?? false)
    }
}

extension EtcdDeleteRangeRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        writer.bytes(1, key)
        writer.bytes(2, rangeEnd ?? Data())
        writer.bool(3, prevKV ?? false)
    }
}

extension EtcdCompare: EtcdProtobufRequest {
    static let results: [String: Int64] = ["EQUAL": 0, "GREATER": 1, "LESS": 2, "NOT_EQUAL": 3]
    static let targets: [String: Int64] = ["VERSION": 0, "CREATE": 1, "MOD": 2, "VALUE": 3, "LEASE": 4]

    func encode(to writer: inout ProtobufWriter) {
        writer.int(1, Self.results[result] ?? 0)
        let targetNumber = Self.targets[target] ?? 0
        writer.int(2, targetNumber)
        writer.bytes(3, key)
        // The target_union oneof: the member that matches the target is always written, even
        // when it is zero, so that etcd sees which one is set (as the gateway's JSON does).
        switch targetNumber {
        case 0: writeAlways(&writer, 4, int64(version))
        case 1: writeAlways(&writer, 5, int64(createRevision))
        case 2: writeAlways(&writer, 6, int64(modRevision))
        case 3: writer.bytes(7, value ?? Data(), always: true)
        default: break
        }
        writer.bytes(64, rangeEnd ?? Data())
    }

    private func writeAlways(_ writer: inout ProtobufWriter, _ field: Int, _ value: Int64) {
        if value == 0 {
            // int(_:_:) leaves zeros out; a oneof member must be present.
            writer.varint(UInt64(field) << 3)
            writer.varint(0)
        } else {
            writer.int(field, value)
        }
    }
}

extension EtcdRequestOp: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        if let range { writer.message(1) { range.encode(to: &$0) } }
        if let put { writer.message(2) { put.encode(to: &$0) } }
        if let deleteRange { writer.message(3) { deleteRange.encode(to: &$0) } }
        if let txn { writer.message(4) { txn.encode(to: &$0) } }
    }
}

extension EtcdTxnRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        for compare in compare { writer.message(1) { compare.encode(to: &$0) } }
        for op in success { writer.message(2) { op.encode(to: &$0) } }
        for op in failure { writer.message(3) { op.encode(to: &$0) } }
    }
}

extension EtcdLeaseGrantRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        writer.int(1, int64(ttl))
    }
}

/// LeaseRevokeRequest and LeaseTimeToLiveRequest both carry the ID as field 1.
extension EtcdLeaseIDRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        writer.int(1, int64(id))
    }
}

extension EtcdCompactionRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        writer.int(1, int64(revision))
        writer.bool(2, physical)
    }
}

// MARK: Answers

extension ByteBuffer {
    fileprivate var data: Data { Data(readableBytesView) }
}

extension Optional where Wrapped == [EtcdKeyValue] {
    /// Repeated fields arrive one element per field; EtcdWire keeps "none" as nil, as the JSON does.
    fileprivate mutating func appendElement(_ element: EtcdKeyValue) {
        var list = self ?? []
        self = nil  // so the append does not copy
        list.append(element)
        self = list
    }
}

extension Optional where Wrapped == [EtcdResponseOp] {
    fileprivate mutating func appendElement(_ element: EtcdResponseOp) {
        var list = self ?? []
        self = nil
        list.append(element)
        self = list
    }
}

extension EtcdResponseHeader: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        revision = EtcdInt(0)
        try reader.forEachField { field, value in
            if field == 3 { revision = EtcdInt(try reader.int(value)) }
        }
    }
}

extension EtcdKeyValue: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        key = Data()
        createRevision = EtcdInt(0)
        modRevision = EtcdInt(0)
        version = EtcdInt(0)
        value = nil
        lease = EtcdInt(0)
        try reader.forEachField { field, item in
            switch field {
            case 1: key = try reader.bytes(item).data
            case 2: createRevision = EtcdInt(try reader.int(item))
            case 3: modRevision = EtcdInt(try reader.int(item))
            case 4: version = EtcdInt(try reader.int(item))
            case 5: value = try reader.bytes(item).data
            case 6: lease = EtcdInt(try reader.int(item))
            default: break
            }
        }
    }
}

extension EtcdRangeResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        kvs = nil
        more = nil
        count = EtcdInt(0)
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 2: kvs.appendElement(try EtcdKeyValue(protobuf: reader.nested(item)))
            case 3: more = try reader.bool(item)
            case 4: count = EtcdInt(try reader.int(item))
            default: break
            }
        }
    }
}

extension EtcdPutResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        prevKV = nil
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 2: prevKV = try EtcdKeyValue(protobuf: reader.nested(item))
            default: break
            }
        }
    }
}

extension EtcdDeleteRangeResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        deleted = EtcdInt(0)
        prevKVs = nil
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 2: deleted = EtcdInt(try reader.int(item))
            case 3: prevKVs.appendElement(try EtcdKeyValue(protobuf: reader.nested(item)))
            default: break
            }
        }
    }
}

extension EtcdResponseOp: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        range = nil
        put = nil
        deleteRange = nil
        txn = nil
        try reader.forEachField { field, item in
            switch field {
            case 1: range = try EtcdRangeResponse(protobuf: reader.nested(item))
            case 2: put = try EtcdPutResponse(protobuf: reader.nested(item))
            case 3: deleteRange = try EtcdDeleteRangeResponse(protobuf: reader.nested(item))
            case 4: txn = try EtcdTxnResponse(protobuf: reader.nested(item))
            default: break
            }
        }
    }
}

extension EtcdTxnResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        succeeded = nil
        responses = nil
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 2: succeeded = try reader.bool(item)
            case 3: responses.appendElement(try EtcdResponseOp(protobuf: reader.nested(item)))
            default: break
            }
        }
    }
}

extension EtcdLeaseGrantResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        id = EtcdInt(0)
        ttl = EtcdInt(0)
        error = nil
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 2: id = EtcdInt(try reader.int(item))
            case 3: ttl = EtcdInt(try reader.int(item))
            case 4:
                let text = String(decoding: try reader.bytes(item).readableBytesView, as: UTF8.self)
                error = text.isEmpty ? nil : text
            default: break
            }
        }
    }
}

extension EtcdLeaseTTLResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        id = EtcdInt(0)
        ttl = EtcdInt(0)
        grantedTTL = EtcdInt(0)
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 2: id = EtcdInt(try reader.int(item))
            case 3: ttl = EtcdInt(try reader.int(item))
            case 4: grantedTTL = EtcdInt(try reader.int(item))
            default: break
            }
        }
    }
}

extension EtcdEmptyResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        try reader.forEachField { field, item in
            if field == 1 { header = try EtcdResponseHeader(protobuf: reader.nested(item)) }
        }
    }
}

/// A keep-alive over gRPC is a stream of one request and one answer, read like a unary call.
extension EtcdStreamLine: EtcdProtobufResponse where Result: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        result = try Result(protobuf: reader)
        error = nil
    }
}

// MARK: Watches

extension EtcdWatchRequest: EtcdProtobufRequest {
    func encode(to writer: inout ProtobufWriter) {
        let create = createRequest
        writer.message(1) { request in
            request.bytes(1, create.key)
            request.bytes(2, create.rangeEnd ?? Data())
            request.int(3, int64(create.startRevision))
            request.bool(4, create.progressNotify)
            request.bool(6, create.prevKV)
        }
    }
}

extension EtcdEvent: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        var isDelete = false
        var kv: EtcdKeyValue?
        var prevKV: EtcdKeyValue?
        try reader.forEachField { field, item in
            switch field {
            case 1: isDelete = try reader.int(item) == 1
            case 2: kv = try EtcdKeyValue(protobuf: reader.nested(item))
            case 3: prevKV = try EtcdKeyValue(protobuf: reader.nested(item))
            default: break
            }
        }
        // An event always names its key; without one it is not an event.
        guard let kv else { throw ProtobufError(description: "watch event without a key-value") }
        self.init(type: isDelete ? "DELETE" : nil, kv: kv, prevKV: prevKV)
    }
}

extension EtcdWatchResponse: EtcdProtobufResponse {
    init(protobuf reader: ProtobufReader) throws {
        header = nil
        created = nil
        canceled = nil
        compactRevision = EtcdInt(0)
        cancelReason = nil
        events = nil
        try reader.forEachField { field, item in
            switch field {
            case 1: header = try EtcdResponseHeader(protobuf: reader.nested(item))
            case 3: created = try reader.bool(item)
            case 4: canceled = try reader.bool(item)
            case 5: compactRevision = EtcdInt(try reader.int(item))
            case 6:
                let text = String(decoding: try reader.bytes(item).readableBytesView, as: UTF8.self)
                cancelReason = text.isEmpty ? nil : text
            case 11:
                var list = events ?? []
                events = nil
                list.append(try EtcdEvent(protobuf: reader.nested(item)))
                events = list
            default: break
            }
        }
    }
}
