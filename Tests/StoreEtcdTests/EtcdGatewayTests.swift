import FleetStore
@testable import FleetStoreEtcd
import Foundation
import Testing

/// The gateway's JSON and error conventions, and how failures are classified: no etcd needed.
@Suite struct EtcdGatewayTests {
    @Test func answersWithOmittedZeroValuesAndHugeIDsDecode() throws {
        let json = """
            {"header":{"cluster_id":"9860077403238499539","member_id":"12199411949938073349","revision":"5"},
             "responses":[{"response_range":{"header":{"revision":"5"},"kvs":[{"key":"L3AvYQ==",
             "create_revision":"2","mod_revision":"4","version":"3","value":"MQ==","lease":"7"}],"count":"1"}},
             {"response_range":{"header":{"revision":"5"}}}]}
            """
        let txn = try JSONDecoder().decode(EtcdTxnResponse.self, from: Data(json.utf8))
        #expect(txn.revision == 5)
        #expect(!txn.didSucceed, "a failed txn has no `succeeded` field")
        let kv = try #require(txn.range(0)?.kvs?.first)
        #expect(String(decoding: kv.key, as: UTF8.self) == "/p/a")
        #expect(kv.valueString == "1")
        #expect(kv.lease.value == 7)
        #expect(txn.range(1)?.count.value == 0)
    }

    @Test func watchLinesCarryEventsCancellationsAndErrors() throws {
        let events = """
            {"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"L3AvYQ==","create_revision":"2",\
            "mod_revision":"2","version":"1","value":"MQ=="}},{"type":"DELETE","kv":{"key":"L3AvYg==",\
            "mod_revision":"5"},"prev_kv":{"key":"L3AvYg==","create_revision":"3","mod_revision":"3",\
            "version":"1","lease":"99"}}]}}
            """
        let line = try JSONDecoder().decode(EtcdStreamLine<EtcdWatchResponse>.self, from: Data(events.utf8))
        #expect(line.result?.events?.map(\.isDelete) == [false, true])
        #expect(line.result?.events?.last?.prevKV?.lease.value == 99)
        #expect(line.result?.events?.last?.prevKV?.valueString == "")

        let canceled = #"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}}"#
        let cancel = try JSONDecoder().decode(EtcdStreamLine<EtcdWatchResponse>.self, from: Data(canceled.utf8))
        #expect(cancel.result?.canceled == true)
        #expect(cancel.result?.compactRevision.value == 4)

        let failed = #"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}}"#
        let error = try JSONDecoder().decode(EtcdStreamLine<EtcdWatchResponse>.self, from: Data(failed.utf8))
        #expect(error.error?.grpcCode == 14)
        #expect(error.result == nil)
    }

    @Test func requestsUseProtoNamesStringsAndBase64() throws {
        let request = EtcdTxnRequest(
            compare: [.version(Data("/k".utf8), rangeEnd: Data("/l".utf8), "EQUAL", 0)],
            success: [.put(EtcdPutRequest(key: Data("/k".utf8), value: Data("v".utf8), lease: "12", prevKV: true))],
            failure: [])
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(json.contains(#""range_end":"L2w=""#))
        #expect(json.contains(#""version":"0""#))
        #expect(json.contains(#""request_put""#))
        #expect(json.contains(#""prev_kv":true"#))
        #expect(json.contains(#""lease":"12""#))
    }

    @Test func failuresAreClassifiedByWhetherTheyMayHaveBeenApplied() {
        func kind(_ code: Int, _ message: String) -> String {
            switch EtcdGateway.classify(grpcCode: code, message: message, path: "/v3/kv/txn") {
            case .notSent: "notSent"
            case .refused: "refused"
            case .ambiguous: "ambiguous"
            case .final(let error): "final \(error.code)"
            }
        }
        #expect(kind(14, "etcdserver: no leader") == "refused")
        #expect(kind(14, "etcdserver: request timed out") == "ambiguous")
        #expect(kind(14, "etcdserver: request timed out, possibly due to previous leader failure") == "ambiguous")
        #expect(kind(14, "etcdserver: leader changed") == "ambiguous")
        #expect(kind(8, "etcdserver: too many requests") == "refused")
        #expect(kind(11, "etcdserver: mvcc: required revision has been compacted")
            == "final \(StoreError.Code.indexCleared)")
        #expect(kind(3, "etcdserver: duplicate key given in txn request") == "final \(StoreError.Code.unavailable)")

        let body = Data(#"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#.utf8)
        guard case .final(let error) = EtcdGateway.classify(status: .notFound, body: body, path: "/v3/kv/put") else {
            Issue.record("a missing lease is a definite answer")
            return
        }
        #expect(error.code == .keyNotFound)
    }
}
