@testable import FleetStoreEtcd
import Foundation
import NIOCore
import Testing

/// The protobuf messages of etcd's gRPC calls: encoding, decoding, and hostile answers. No etcd
/// needed; the store's etcd suites run the same messages against a real cluster.
@Suite struct EtcdProtobufTests {
    /// Every field of a message as (number, varint or bytes), in order.
    func fields(_ buffer: ByteBuffer) throws -> [(Int, ProtobufReader.Value)] {
        var reader = try ProtobufReader(buffer)
        var all: [(Int, ProtobufReader.Value)] = []
        while let field = try reader.next() { all.append(field) }
        return all
    }

    /// The fields of a nested message.
    func fields(of value: ProtobufReader.Value) throws -> [(Int, ProtobufReader.Value)] {
        guard case .bytes(let slice) = value else { throw ProtobufError(description: "not a nested message") }
        return try fields(slice)
    }

    func varint(_ value: ProtobufReader.Value) -> UInt64? {
        if case .varint(let raw) = value { return raw }
        return nil
    }

    func bytes(_ value: ProtobufReader.Value) -> [UInt8]? {
        if case .bytes(let slice) = value { return Array(slice.readableBytesView) }
        return nil
    }

    @Test func varintsRoundTripAtTheirEdges() throws {
        for value: Int64 in [1, 127, 128, 300, 1 << 35, .max, -1, .min] {
            var writer = ProtobufWriter()
            writer.int(3, value)
            let read = try fields(writer.buffer)
            #expect(read.count == 1 && read[0].0 == 3)
            #expect(read.first.flatMap { varint($0.1) }.map { Int64(bitPattern: $0) } == value)
        }
        var writer = ProtobufWriter()
        writer.int(1, 0)
        writer.bool(2, false)
        writer.bytes(3, [UInt8]())
        #expect(writer.buffer.readableBytes == 0, "proto3 leaves zero values out")
    }

    @Test func aNestedTxnKeepsItsComparesAndOps() throws {
        let key = Data("/fleet/states/a".utf8)
        let inner = EtcdTxnRequest(
            compare: [EtcdCompare(result: "EQUAL", target: "VERSION", key: key, version: "0")],
            success: [.put(EtcdPutRequest(key: key, value: Data("v".utf8), lease: "42", prevKV: true))],
            failure: [.range(EtcdRangeRequest(key: key, rangeEnd: Data("/fleet/states0".utf8), limit: "1",
                                              sortOrder: "ASCEND", sortTarget: "CREATE"))])
        let outer = EtcdTxnRequest(compare: [], success: [.txn(inner)], failure: [])
        let top = try fields(outer.protobuf)
        #expect(top.map(\.0) == [2], "one success op")
        let op = try fields(of: top[0].1)
        #expect(op.map(\.0) == [4], "a request_txn")
        let txn = try fields(of: op[0].1)
        #expect(txn.map(\.0) == [1, 2, 3], "compare, success, failure")

        let compare = try fields(of: txn[0].1)
        // result EQUAL (0) and target VERSION (0) are defaults and left out; the version, though
        // zero, is the oneof member that says what is compared, so it is there.
        #expect(compare.map(\.0) == [3, 4])
        #expect(bytes(compare[0].1) == Array(key))
        #expect(varint(compare[1].1) == 0)

        let put = try fields(of: try fields(of: txn[1].1)[0].1)
        #expect(put.map(\.0) == [1, 2, 3, 4])
        #expect(varint(put[2].1) == 42)

        let range = try fields(of: try fields(of: txn[2].1)[0].1)
        #expect(range.map(\.0) == [1, 2, 3, 5, 6])
        #expect(range.dropFirst(2).compactMap { varint($0.1) } == [1, 1, 2], "limit 1, ASCEND, CREATE")
    }

    @Test func aCompareOnValueOrModRevisionCarriesItsOneofMember() throws {
        let key = Data("/k".utf8)
        let value = try fields(EtcdCompare(result: "NOT_EQUAL", target: "VALUE", key: key, value: Data()).protobuf)
        #expect(value.map(\.0) == [1, 2, 3, 7], "an empty value is still the member compared")
        let mod = try fields(EtcdCompare(result: "LESS", target: "MOD", key: key, rangeEnd: Data("/l".utf8), modRevision: "9").protobuf)
        #expect(mod.map(\.0) == [1, 2, 3, 6, 64])
        #expect(mod.compactMap { varint($0.1) } == [2, 2, 9])
    }

    /// An answer as etcd would send it: a txn whose success branch holds a nested txn's range.
    func txnAnswer() -> ByteBuffer {
        var writer = ProtobufWriter()
        writer.message(1) { $0.int(1, -1); $0.int(3, 77) }  // header: cluster_id (uint64 max), revision
        writer.bool(2, true)
        writer.message(3) { op in
            op.message(4) { txn in
                txn.bool(2, false)
                txn.message(3) { op in
                    op.message(1) { range in
                        range.message(2) { kv in
                            kv.bytes(1, Array("/p/a".utf8))
                            kv.int(2, 5)
                            kv.int(3, 7)
                            kv.int(4, 2)
                            kv.bytes(5, Array("one".utf8))
                            kv.int(6, 99)
                        }
                        range.message(2) { kv in kv.bytes(1, Array("/p/b".utf8)) }
                        range.int(4, 2)
                        range.bool(3, true)
                    }
                }
            }
        }
        writer.message(3) { op in op.message(2) { put in put.message(1) { $0.int(3, 77) } } }
        return writer.buffer
    }

    @Test func aTxnAnswerDecodesWithNestedAnswersAndKeyValues() throws {
        let answer = try EtcdTxnResponse(protobuf: ProtobufReader(txnAnswer()))
        #expect(answer.revision == 77)
        #expect(answer.didSucceed)
        let nested = try #require(answer.responses?.first?.txn)
        #expect(!nested.didSucceed)
        let range = try #require(nested.range(0))
        #expect(range.count.value == 2 && range.more == true)
        let kv = try #require(range.kvs?.first)
        #expect(String(decoding: kv.key, as: UTF8.self) == "/p/a" && kv.valueString == "one")
        #expect([kv.createRevision.value, kv.modRevision.value, kv.version.value, kv.lease.value] == [5, 7, 2, 99])
        #expect(range.kvs?.last?.value == nil && range.kvs?.last?.version.value == 0, "absent fields are zero or nil")
        #expect(answer.responses?.last?.put?.prevKV == nil)
        #expect(answer.responses?.last?.put?.header?.revision.value == 77)
    }

    @Test func leaseAnswersDecode() throws {
        var writer = ProtobufWriter()
        writer.message(1) { $0.int(3, 12) }
        writer.int(2, 0x7fff_0000_0000_0001)
        writer.int(3, 10)
        let grant = try EtcdLeaseGrantResponse(protobuf: ProtobufReader(writer.buffer))
        #expect(grant.id.value == 0x7fff_0000_0000_0001 && grant.ttl.value == 10 && grant.error == nil)
        let keptAlive = try EtcdStreamLine<EtcdLeaseTTLResponse>(protobuf: ProtobufReader(writer.buffer))
        #expect(keptAlive.result?.ttl.value == 10 && keptAlive.error == nil)
        let gone = try EtcdLeaseTTLResponse(protobuf: ProtobufReader(ByteBuffer()))
        #expect(gone.ttl.value == 0, "an expired lease's keep-alive answer has no TTL")
    }

    @Test func truncatedOrMalformedAnswersThrow() throws {
        let whole = Array(txnAnswer().readableBytesView)
        // Every strict prefix is either a valid shorter message or an error; none may trap.
        for length in 0..<whole.count {
            _ = try? EtcdTxnResponse(protobuf: ProtobufReader(ByteBuffer(bytes: whole[..<length])))
        }
        #expect(throws: ProtobufError.self) { try EtcdTxnResponse(protobuf: ProtobufReader(ByteBuffer(bytes: whole.dropLast()))) }
        // A length beyond the message, an eleven-byte varint, a group, a varint where bytes belong.
        for hostile: [UInt8] in [[0x0a, 0x7f, 0x01], [0x10] + Array(repeating: 0xff, count: 10) + [0x01], [0x0b],
                                 [0x08, 0x01]] {
            #expect(throws: ProtobufError.self) { try EtcdTxnResponse(protobuf: ProtobufReader(ByteBuffer(bytes: hostile))) }
        }
    }

    @Test func deepNestingIsRefused() throws {
        // response_txn inside response_txn, 40 levels: refused before the recursion gets deep.
        var message: [UInt8] = []
        for _ in 0..<40 {
            var op: [UInt8] = [0x22]  // ResponseOp.response_txn
            op += varintBytes(message.count) + message
            message = [0x1a] + varintBytes(op.count) + op  // TxnResponse.responses
        }
        #expect(throws: ProtobufError.self) { try EtcdTxnResponse(protobuf: ProtobufReader(ByteBuffer(bytes: message))) }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? EtcdTxnResponse(protobuf: ProtobufReader(ByteBuffer(bytes: bytes)))
            _ = try? EtcdRangeResponse(protobuf: ProtobufReader(ByteBuffer(bytes: bytes)))
        }
    }

    @Test func aWatchRequestAsksForItsRangeRevisionAndPreviousValues() throws {
        let create = EtcdWatchRequest.Create(key: Data("/p/".utf8), rangeEnd: Data("/p0".utf8), startRevision: "12",
                                             prevKV: true, progressNotify: true)
        let top = try fields(EtcdWatchRequest(createRequest: create).protobuf)
        #expect(top.map(\.0) == [1], "a create_request")
        let request = try fields(of: top[0].1)
        #expect(request.map(\.0) == [1, 2, 3, 4, 6], "key, range_end, start_revision, progress_notify, prev_kv")
        #expect(request.dropFirst(2).compactMap { varint($0.1) } == [12, 1, 1])
    }

    @Test func watchAnswersCarryEventsCancellationsAndProgress() throws {
        var writer = ProtobufWriter()
        writer.message(1) { $0.int(3, 30) }
        writer.message(11) { event in event.message(2) { $0.bytes(1, Array("/p/a".utf8)); $0.int(3, 29) } }
        writer.message(11) { event in
            event.int(1, 1)
            event.message(2) { $0.bytes(1, Array("/p/b".utf8)); $0.int(3, 30) }
            event.message(3) { $0.bytes(1, Array("/p/b".utf8)); $0.int(6, 5) }
        }
        let answer = try EtcdWatchResponse(protobuf: ProtobufReader(writer.buffer))
        #expect(answer.header?.revision.value == 30)
        #expect(answer.events?.map(\.isDelete) == [false, true])
        #expect(answer.events?.last?.prevKV?.lease.value == 5)

        var canceled = ProtobufWriter()
        canceled.bool(4, true)
        canceled.int(5, 7)
        canceled.bytes(6, Array("compacted".utf8))
        let cancel = try EtcdWatchResponse(protobuf: ProtobufReader(canceled.buffer))
        #expect(cancel.canceled == true && cancel.compactRevision.value == 7 && cancel.cancelReason == "compacted")

        var keyless = ProtobufWriter()
        keyless.message(11) { $0.int(1, 1) }
        #expect(throws: ProtobufError.self) { try EtcdWatchResponse(protobuf: ProtobufReader(keyless.buffer)) }
    }

    @Test func streamedMessagesAreCutAtTheirLengthPrefixes() throws {
        var stream = ByteBuffer()
        stream.writeImmutableBuffer(EtcdGRPC.framed(ByteBuffer(bytes: [1, 2, 3])))
        stream.writeImmutableBuffer(EtcdGRPC.framed(ByteBuffer(bytes: [])))
        let whole = Array(stream.readableBytesView)
        // Fed a byte at a time, the same two messages come out, and nothing before they are whole.
        var pending = ByteBuffer()
        var messages: [[UInt8]] = []
        for byte in whole {
            pending.writeInteger(byte)
            while let message = try EtcdGRPC.nextMessage(&pending) { messages.append(Array(message.readableBytesView)) }
        }
        #expect(messages == [[1, 2, 3], []])
        #expect(pending.readableBytes == 0)

        var compressed = ByteBuffer(bytes: [1, 0, 0, 0, 1, 9])
        #expect(throws: EtcdGRPC.Failure.self) { try EtcdGRPC.nextMessage(&compressed) }
        var huge = ByteBuffer(bytes: [0, 0xff, 0xff, 0xff, 0xff])
        #expect(throws: EtcdGRPC.Failure.self) { try EtcdGRPC.nextMessage(&huge) }
    }

    @Test func endpointsAreAllHTTPOrAllHTTPS() {
        #expect(EtcdGRPC.Address("http://127.0.0.1:2379")?.port == 2379)
        #expect(EtcdGRPC.Address("https://127.0.0.1:2379")?.secure == true)
        #expect(EtcdGRPC.Address("http://[::1]:2379/")?.host == "::1")
        #expect(EtcdGRPC.Address("http://host:2379")?.authority == "host:2379")
        for bad in ["unix:///x", "http://127.0.0.1", "http://:2379", "http://h:0", "http://h:70000", "http://h:1/x"] {
            #expect(EtcdGRPC.Address(bad) == nil, "\(bad)")
        }
        #expect(EtcdGRPC.serves(["http://a:1", "http://b:2"]))
        #expect(EtcdGRPC.serves(["https://a:1", "https://b:2"]))
        #expect(!EtcdGRPC.serves(["http://a:1", "https://b:2"]), "one connection setup for all members")
    }

    private func varintBytes(_ value: Int) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.varint(UInt64(value))
        return Array(writer.buffer.readableBytesView)
    }
}
