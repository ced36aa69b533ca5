import FleetHTTPServer
import FleetRemoteStore
import FleetStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One write of a `POST /v2/batch` (``V2Batch``), read as the lone request it stands for.
/// Public so the API's role checks read a batch exactly as the keys API will.
public struct KeysBatchWrite: Sendable {
    public var method: HTTPRequest.Method
    /// Normalized.
    public var key: String
    /// The write's query string: the role policy reads a write's conditions from it alone.
    public var query: String?
    /// Query string and form body merged, as ``KeysAPI`` reads a lone request's.
    public var parameters: V2Parameters

    /// The writes of a batch's body, checked: at most ``V2Batch/maxWrites``, each a `PUT`,
    /// `POST` or `DELETE` of a valid key, and no two that touch the same key or one below the
    /// other (they are applied in no order). Throws etcd's error 209 (HTTP 400) otherwise.
    public static func parse(_ body: ByteBuffer) throws(StoreError) -> [KeysBatchWrite] {
        let request: V2Batch.Request
        do {
            request = try JSONDecoder().decode(V2Batch.Request.self, from: Data(body.readableBytesView))
        } catch {
            throw StoreError(.invalidField, "the batch is not valid JSON of the form {\"writes\":[...]}")
        }
        guard !request.writes.isEmpty, request.writes.count <= V2Batch.maxWrites else {
            throw StoreError(.invalidField, "a batch holds 1 to \(V2Batch.maxWrites) writes, not \(request.writes.count)")
        }
        var writes: [KeysBatchWrite] = []
        writes.reserveCapacity(request.writes.count)
        for (position, write) in request.writes.enumerated() {
            let method: HTTPRequest.Method
            switch write.method {
            case "PUT": method = .put
            case "POST": method = .post
            case "DELETE": method = .delete
            default: throw StoreError(.invalidField, "write \(position + 1) of the batch: \(write.method.prefix(16)) is not PUT, POST or DELETE")
            }
            let key: String
            do {
                key = try StoreKey.normalize(write.key)
            } catch {
                throw StoreError(.invalidField, "write \(position + 1) of the batch: \(error.cause)")
            }
            writes.append(KeysBatchWrite(method: method, key: key, query: write.query,
                                         parameters: V2Parameters(query: write.query, formBody: write.form)))
        }
        if let (first, second) = V2Batch.conflict(in: writes.map(\.footprint)) {
            throw StoreError(.invalidField, "writes \(first + 1) and \(second + 1) of the batch touch the same key "
                             + "(\(writes[first].key), \(writes[second].key)): a batch's writes are applied in no order")
        }
        return writes
    }

    /// The key written, and those its outcome depends on (guard and owner).
    var footprint: V2Batch.Footprint {
        V2Batch.Footprint(key: key, guardKey: parameters.string("guardKey"), owner: parameters.string("owner"))
    }
}

extension KeysAPI {
    /// `POST` here carries a batch of writes (``V2Batch``).
    public static let batchPath = V2Batch.path

    /// `POST /v2/batch`: every write applied (concurrently: a batch's writes are independent
    /// by ``KeysBatchWrite/parse(_:)``), answered in the request's order, each with the status
    /// and document its own request would have had. A refused write does not stop the others.
    /// - Parameter parsed: the writes of this body, when a middleware has parsed them already;
    ///   the body is still held to this API's size limit.
    func batch(_ request: Request, parsed: [KeysBatchWrite]? = nil) async throws -> Response {
        let writes: [KeysBatchWrite]
        do {
            let body = try await request.body.collect(upTo: maxBodyBytes)
            writes = try parsed ?? KeysBatchWrite.parse(body)
        } catch let error as StoreError {
            return errorResponse(error)
        } catch is NIOTooManyBytesError {
            return errorResponse(StoreError(.bodyTooLarge, "request body is larger than \(maxBodyBytes) bytes"))
        }
        let outcomes = await withTaskGroup(of: (Int, Result<WriteOutcome, StoreError>).self) { group in
            for (position, write) in writes.enumerated() {
                group.addTask {
                    do {
                        return (position, .success(try await self.write(write.method, write.key, write.parameters)))
                    } catch let error as StoreError {
                        return (position, .failure(error))
                    } catch {
                        return (position, .failure(StoreError(.unavailable, "\(error)")))
                    }
                }
            }
            // Every task answers; the placeholder is never sent.
            var outcomes = [Result<WriteOutcome, StoreError>](repeating: .failure(StoreError(.unavailable, "not applied")),
                                                              count: writes.count)
            for await (position, outcome) in group { outcomes[position] = outcome }
            return outcomes
        }
        let now = Date()
        var json = JSONText(reservingCapacity: 256 * writes.count)
        json.object { reply in
            reply.key("results")
            reply.array(outcomes) { json, outcome in
                json.object { answer in
                    switch outcome {
                    case .success(let outcome):
                        answer.member("status", outcome.status.code)
                        answer.key("event")
                        V2Event(outcome.event, now: now).write(to: &answer)
                    case .failure(let error):
                        answer.member("status", error.code.httpStatus)
                        answer.key("error")
                        V2Error(error).write(to: &answer)
                    }
                }
            }
        }
        // The newest index the writes saw, as a lone write's reply carries its own.
        let index = outcomes.lazy.map { outcome -> UInt64 in
            switch outcome {
            case .success(let outcome): outcome.event.index
            case .failure(let error): error.index
            }
        }.max() ?? 0
        var headers = Self.headers(index: index)
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
