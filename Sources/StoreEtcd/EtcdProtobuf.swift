import NIOCore

// Protocol buffers' wire format, as much of it as etcd's unary calls need: varints,
// length-delimited fields and nested messages. Hand-written rather than generated because the
// store sends a dozen message shapes it already models in EtcdWire, and because every length
// and count read here comes from the network and is checked before use.

/// Builds one protobuf message into a buffer; nested messages are written in place.
struct ProtobufWriter {
    private(set) var buffer: ByteBuffer

    init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.writeInteger(UInt8(value))
    }

    private mutating func tag(_ field: Int, _ wireType: UInt64) {
        varint(UInt64(field) << 3 | wireType)
    }

    /// An int64 or enum field; zero is proto3's default and is left out, as protoc would.
    mutating func int(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        tag(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func bool(_ field: Int, _ value: Bool) {
        guard value else { return }
        tag(field, 0)
        varint(1)
    }

    /// A bytes field; written even when empty where `always` (a oneof member such as a
    /// compare's value, whose presence is the point).
    mutating func bytes(_ field: Int, _ value: some Collection<UInt8>, always: Bool = false) {
        guard always || !value.isEmpty else { return }
        tag(field, 2)
        varint(UInt64(value.count))
        buffer.writeBytes(value)
    }

    /// A nested message, written by `body` after a length prefix that is patched in afterwards.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, 2)
        // Nested messages here stay far below 2^28 bytes (etcd takes 1.5 MiB requests), so a
        // four-byte varint (padded with continuation bits, which protobuf allows) is reserved
        // for the length and patched in afterwards without moving the body.
        let lengthAt = buffer.writerIndex
        buffer.writeBytes([0x80, 0x80, 0x80, 0x00])
        let start = buffer.writerIndex
        body(&self)
        let length = buffer.writerIndex - start
        if length < 1 << 28 {
            buffer.setBytes([UInt8(truncatingIfNeeded: length) | 0x80, UInt8(truncatingIfNeeded: length >> 7) | 0x80,
                             UInt8(truncatingIfNeeded: length >> 14) | 0x80, UInt8(truncatingIfNeeded: length >> 21) & 0x7f],
                            at: lengthAt)
        } else {
            // Larger than etcd would take anyway; still written correctly, by moving the body.
            let body = buffer.getSlice(at: start, length: length) ?? ByteBuffer()
            buffer.moveWriterIndex(to: lengthAt)
            varint(UInt64(length))
            buffer.writeImmutableBuffer(body)
        }
    }
}

/// Why a protobuf answer could not be read.
struct ProtobufError: Error, CustomStringConvertible {
    var description: String
}

/// Reads the fields of one protobuf message, in order, without copying nested messages.
struct ProtobufReader {
    /// Nested messages deeper than this are refused: etcd's answers nest a txn in a txn (4
    /// levels with its ops and key-values); a hostile peer's thousand levels must not recurse.
    static let maxDepth = 16

    enum Value {
        case varint(UInt64)
        case bytes(ByteBuffer)
    }

    private var buffer: ByteBuffer
    let depth: Int

    init(_ buffer: ByteBuffer, depth: Int = 0) throws {
        guard depth <= Self.maxDepth else { throw ProtobufError(description: "protobuf nested more than \(Self.maxDepth) deep") }
        self.buffer = buffer
        self.depth = depth
    }

    /// The next field, or nil at the end of the message. Fixed-size fields (none in etcd's
    /// answers) are skipped; groups are refused.
    mutating func next() throws -> (field: Int, value: Value)? {
        while buffer.readableBytes > 0 {
            let key = try readVarint()
            guard key >> 3 <= UInt64(Int32.max), key >> 3 > 0 else { throw ProtobufError(description: "bad protobuf field number") }
            let field = Int(key >> 3)
            switch key & 7 {
            case 0:
                return (field, .varint(try readVarint()))
            case 1:
                guard buffer.readableBytes >= 8 else { throw Self.truncated }
                buffer.moveReaderIndex(forwardBy: 8)
            case 2:
                let length = try readVarint()
                guard length <= UInt64(buffer.readableBytes), let slice = buffer.readSlice(length: Int(length)) else {
                    throw Self.truncated
                }
                return (field, .bytes(slice))
            case 5:
                guard buffer.readableBytes >= 4 else { throw Self.truncated }
                buffer.moveReaderIndex(forwardBy: 4)
            default:
                throw ProtobufError(description: "unsupported protobuf wire type \(key & 7)")
            }
        }
        return nil
    }

    /// Calls `body` with each field in turn (a copy of the reader walks them; this one stays put).
    func forEachField(_ body: (Int, Value) throws -> Void) throws {
        var walker = self
        while let (field, value) = try walker.next() { try body(field, value) }
    }

    /// A nested message's reader.
    func nested(_ value: Value) throws -> ProtobufReader {
        try ProtobufReader(bytes(value), depth: depth + 1)
    }

    func bytes(_ value: Value) throws -> ByteBuffer {
        guard case .bytes(let slice) = value else { throw ProtobufError(description: "protobuf field is not length-delimited") }
        return slice
    }

    func int(_ value: Value) throws -> Int64 {
        guard case .varint(let raw) = value else { throw ProtobufError(description: "protobuf field is not a varint") }
        return Int64(bitPattern: raw)
    }

    func bool(_ value: Value) throws -> Bool { try int(value) != 0 }

    private static let truncated = ProtobufError(description: "truncated protobuf message")

    private mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = buffer.readInteger(as: UInt8.self) else { throw Self.truncated }
            result |= UInt64(byte & 0x7f) << UInt64(shift)
            if byte < 0x80 { return result }
        }
        throw ProtobufError(description: "protobuf varint longer than ten bytes")
    }
}
