import Foundation

// The JSON shapes of etcd's v3 gRPC gateway (`/v3/...`), as much of them as the store uses.
//
// The gateway marshals protobuf with proto field names (`create_revision`), bytes as base64
// (Foundation's default for `Data`), 64-bit integers as JSON strings, and leaves out every field
// that holds its zero value: a PUT event has no `type`, a failed txn no `succeeded`, an empty
// value no `value`. Requests send 64-bit integers as strings too (the gateway takes both).
// Everything here is internal: callers only ever see FleetStore's types.

/// A 64-bit integer that arrives as a JSON string (or, leniently, a number) and is 0 when absent.
struct EtcdInt: Decodable, Sendable, Hashable {
    var value: Int64

    init(_ value: Int64) {
        self.value = value
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            // uint64 fields (member and cluster IDs) can exceed Int64.max: keep their bits.
            guard let parsed = Int64(text) ?? UInt64(text).map({ Int64(bitPattern: $0) }) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer: \(text)")
            }
            value = parsed
        } else {
            value = try container.decode(Int64.self)
        }
    }
}

extension KeyedDecodingContainer {
    // Zero values are omitted on the wire, so a missing integer means 0. Synthesised `Decodable`
    // picks this overload for non-optional `EtcdInt` fields.
    func decode(_ type: EtcdInt.Type, forKey key: Key) throws -> EtcdInt {
        try decodeIfPresent(type, forKey: key) ?? EtcdInt(0)
    }
}

// MARK: Responses

struct EtcdResponseHeader: Decodable, Sendable {
    var revision: EtcdInt
}

struct EtcdKeyValue: Decodable, Sendable, Hashable {
    var key: Data
    var createRevision: EtcdInt
    var modRevision: EtcdInt
    var version: EtcdInt
    var value: Data?
    var lease: EtcdInt
    enum CodingKeys: String, CodingKey {
        case key, version, value, lease
        case createRevision = "create_revision"
        case modRevision = "mod_revision"
    }

    var valueString: String { value.map { String(decoding: $0, as: UTF8.self) } ?? "" }
}

struct EtcdRangeResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var kvs: [EtcdKeyValue]?
    var more: Bool?
    var count: EtcdInt
}

struct EtcdPutResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var prevKV: EtcdKeyValue?
    enum CodingKeys: String, CodingKey {
        case header
        case prevKV = "prev_kv"
    }
}

struct EtcdDeleteRangeResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var deleted: EtcdInt
    var prevKVs: [EtcdKeyValue]?
    enum CodingKeys: String, CodingKey {
        case header, deleted
        case prevKVs = "prev_kvs"
    }
}

struct EtcdResponseOp: Decodable, Sendable {
    var range: EtcdRangeResponse?
    var put: EtcdPutResponse?
    var deleteRange: EtcdDeleteRangeResponse?
    /// A nested txn's answer (its header is empty: the outer txn's revision is its revision).
    var txn: EtcdTxnResponse?
    enum CodingKeys: String, CodingKey {
        case range = "response_range"
        case put = "response_put"
        case deleteRange = "response_delete_range"
        case txn = "response_txn"
    }
}

struct EtcdTxnResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var succeeded: Bool?
    var responses: [EtcdResponseOp]?

    var revision: Int64 { header?.revision.value ?? 0 }
    var didSucceed: Bool { succeeded ?? false }
    /// The range result at `index` of whichever branch ran.
    func range(_ index: Int) -> EtcdRangeResponse? {
        guard let responses, index < responses.count else { return nil }
        return responses[index].range
    }
}

struct EtcdLeaseGrantResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var id: EtcdInt
    var ttl: EtcdInt
    var error: String?
    enum CodingKeys: String, CodingKey {
        case header, error
        case id = "ID"
        case ttl = "TTL"
    }
}

/// Keep-alive and time-to-live answers; an unknown or expired lease has TTL 0 (keep-alive) or -1
/// (time-to-live).
struct EtcdLeaseTTLResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var id: EtcdInt
    var ttl: EtcdInt
    var grantedTTL: EtcdInt
    enum CodingKeys: String, CodingKey {
        case header
        case id = "ID"
        case ttl = "TTL"
        case grantedTTL
    }
}

struct EtcdEmptyResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
}

struct EtcdEvent: Decodable, Sendable {
    /// nil for PUT (the zero value), "DELETE" otherwise.
    var type: String?
    var kv: EtcdKeyValue
    var prevKV: EtcdKeyValue?
    enum CodingKeys: String, CodingKey {
        case type, kv
        case prevKV = "prev_kv"
    }

    var isDelete: Bool { type == "DELETE" }
}

struct EtcdWatchResponse: Decodable, Sendable {
    var header: EtcdResponseHeader?
    var created: Bool?
    var canceled: Bool?
    var compactRevision: EtcdInt
    var cancelReason: String?
    var events: [EtcdEvent]?
    enum CodingKeys: String, CodingKey {
        case header, created, canceled, events
        case compactRevision = "compact_revision"
        case cancelReason = "cancel_reason"
    }
}

/// One line of a streamed answer (watch, keep-alive): a result, or an error that ends the stream.
struct EtcdStreamLine<Result: Decodable & Sendable>: Decodable, Sendable {
    var result: Result?
    var error: EtcdStreamError?
}

struct EtcdStreamError: Decodable, Sendable {
    var grpcCode: Int?
    var message: String?
    enum CodingKeys: String, CodingKey {
        case grpcCode = "grpc_code"
        case message
    }
}

/// The body of a non-200 unary answer: `{"error": "...", "message": "...", "code": N}` (gRPC code).
struct EtcdErrorBody: Decodable, Sendable {
    var error: String?
    var message: String?
    var code: Int?
}

// MARK: Requests

struct EtcdRangeRequest: Encodable, Sendable {
    var key: Data
    var rangeEnd: Data?
    var limit: String?
    var revision: String?
    var sortOrder: String?
    var sortTarget: String?
    var countOnly: Bool?
    var keysOnly: Bool?
    enum CodingKeys: String, CodingKey {
        case key, limit, revision
        case rangeEnd = "range_end"
        case sortOrder = "sort_order"
        case sortTarget = "sort_target"
        case countOnly = "count_only"
        case keysOnly = "keys_only"
    }
}

struct EtcdPutRequest: Encodable, Sendable {
    var key: Data
    var value: Data?
    var lease: String?
    var prevKV: Bool?
    var ignoreValue: Bool?
    enum CodingKeys: String, CodingKey {
        case key, value, lease
        case prevKV = "prev_kv"
        case ignoreValue = "ignore_value"
    }
}

struct EtcdDeleteRangeRequest: Encodable, Sendable {
    var key: Data
    var rangeEnd: Data?
    var prevKV: Bool?
    enum CodingKeys: String, CodingKey {
        case key
        case rangeEnd = "range_end"
        case prevKV = "prev_kv"
    }
}

struct EtcdCompare: Encodable, Sendable {
    /// EQUAL, GREATER, LESS, NOT_EQUAL
    var result: String
    /// VERSION, CREATE, MOD, VALUE, LEASE
    var target: String
    var key: Data
    var rangeEnd: Data?
    var version: String?
    var createRevision: String?
    var modRevision: String?
    var value: Data?
    enum CodingKeys: String, CodingKey {
        case result, target, key, version, value
        case rangeEnd = "range_end"
        case createRevision = "create_revision"
        case modRevision = "mod_revision"
    }
}

struct EtcdRequestOp: Encodable, Sendable {
    var range: EtcdRangeRequest?
    var put: EtcdPutRequest?
    var deleteRange: EtcdDeleteRangeRequest?
    /// A nested txn (etcd 3.3+): several writes' txns in one, each with its own compares.
    var txn: EtcdTxnRequest?
    enum CodingKeys: String, CodingKey {
        case range = "request_range"
        case put = "request_put"
        case deleteRange = "request_delete_range"
        case txn = "request_txn"
    }

    static func range(_ request: EtcdRangeRequest) -> Self { Self(range: request) }
    static func put(_ request: EtcdPutRequest) -> Self { Self(put: request) }
    static func deleteRange(_ request: EtcdDeleteRangeRequest) -> Self { Self(deleteRange: request) }
    static func txn(_ request: EtcdTxnRequest) -> Self { Self(txn: request) }
}

struct EtcdTxnRequest: Encodable, Sendable {
    var compare: [EtcdCompare]
    var success: [EtcdRequestOp]
    var failure: [EtcdRequestOp]
}

struct EtcdLeaseGrantRequest: Encodable, Sendable {
    var ttl: String
    enum CodingKeys: String, CodingKey { case ttl = "TTL" }
}

struct EtcdLeaseIDRequest: Encodable, Sendable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "ID" }
}

struct EtcdCompactionRequest: Encodable, Sendable {
    var revision: String
    var physical: Bool
}

struct EtcdWatchRequest: Encodable, Sendable {
    struct Create: Encodable, Sendable {
        var key: Data
        var rangeEnd: Data?
        var startRevision: String?
        var prevKV: Bool
        var progressNotify: Bool
        enum CodingKeys: String, CodingKey {
            case key
            case rangeEnd = "range_end"
            case startRevision = "start_revision"
            case prevKV = "prev_kv"
            case progressNotify = "progress_notify"
        }
    }
    var createRequest: Create
    enum CodingKeys: String, CodingKey { case createRequest = "create_request" }
}

extension Int64 {
    /// The next revision, saturating: revisions come from etcd, and a damaged or hostile
    /// server's `Int64.max` must not trap the `+ 1`.
    var nextRevision: Int64 { self == .max ? .max : self + 1 }
}
