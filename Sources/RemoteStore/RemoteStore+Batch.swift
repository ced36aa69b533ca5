import AsyncHTTPClient
import FleetStore
import Foundation
import NIOCore
import NIOFoundationCompat

extension RemoteStore {
    /// Sends `batch` (from ``RemoteWriteBatcher``): one write as its own request, several as one
    /// `POST /v2/batch`. Every write gets the answer its own request would have had.
    ///
    /// A batch the server refuses as a whole (a 4xx: one write its role may not make fails them
    /// all, a server that no longer takes batches answers 404) is sent again one write at a time,
    /// so each gets its own answer. When the server did not answer, every write fails as a lone
    /// one would have.
    func sendBatch(_ batch: [RemoteWriteBatcher.Write]) async -> [Result<StoreEvent, any Error>] {
        if batch.count == 1 { return [await sendAlone(batch[0])] }
        do {
            return try await sendTogether(batch)
        } catch let refusal as BatchRefused {
            if refusal.status == 404 || refusal.status == 405 { writes.noteRefused() }
            return await withTaskGroup(of: (Int, Result<StoreEvent, any Error>).self) { group in
                for (position, write) in batch.enumerated() {
                    group.addTask { (position, await sendAlone(write)) }
                }
                var results = [Result<StoreEvent, any Error>](repeating: .failure(refusal), count: batch.count)
                for await (position, result) in group { results[position] = result }
                return results
            }
        } catch {
            return batch.map { _ in .failure(error) }
        }
    }

    /// The whole batch refused, with the HTTP status: its writes are worth sending alone.
    struct BatchRefused: Error, CustomStringConvertible {
        var status: Int
        var error: StoreError
        var description: String { "the store refused a batch of writes (HTTP \(status)): \(error)" }
    }

    private func sendAlone(_ write: RemoteWriteBatcher.Write) async -> Result<StoreEvent, any Error> {
        do {
            return .success(try await send(write.method, write.key, query: write.query, form: write.form,
                                           guarded: write.guarded, attached: write.attached).event)
        } catch {
            return .failure(error)
        }
    }

    private func sendTogether(_ batch: [RemoteWriteBatcher.Write]) async throws -> [Result<StoreEvent, any Error>] {
        var request = HTTPClientRequest(url: baseURL + V2Batch.path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(V2Batch.Request(writes: batch.map(\.batched)))))
        let response = try await clients.requests.execute(request, timeout: requestTimeout)
        guard response.status.code == 200 else {
            let error = try await Self.error(from: response)
            guard (400..<500).contains(response.status.code) else { throw error }
            throw BatchRefused(status: Int(response.status.code), error: error)
        }
        writes.noteFeatures(batches: Self.names(V2Batch.feature, in: response.headers))
        let body = try await response.body.collect(upTo: 256 << 20)
        let reply = try JSONDecoder().decode(V2Batch.Reply.self, from: body)
        return batch.indices.map { position in
            guard position < reply.results.count else {
                return .failure(StoreError(.unavailable, "the store's answer to a batch lacks write \(position + 1) of \(batch.count)"))
            }
            let answer = reply.results[position]
            if (200..<300).contains(answer.status), let event = answer.event?.storeEvent {
                return .success(event)
            }
            if let error = answer.error { return .failure(error.storeError) }
            return .failure(StoreError(.unavailable, "the store answered write \(position + 1) of a batch with HTTP \(answer.status)"))
        }
    }
}
