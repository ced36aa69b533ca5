import AsyncHTTPClient
import FleetStore
import Foundation
import NIOCore
import Synchronization

extension RemoteStore {
    /// A streaming watch (`wait=true&stream=true`): one request, one event per line.
    ///
    /// The response is read on a task of its own for as long as the consumer iterates. When it
    /// has been silent for ``watchIdleTimeout`` the request is made again from the index after the
    /// last event delivered (or after the index the server started the watch at), so a watch
    /// whose connection died silently is replaced within that time, and nothing is lost or
    /// repeated. A re-issued request that fails, or finds the history cleared, ends the stream
    /// with that error; the caller decides how to go on (``StoreFollower`` retries or reloads).
    public func watch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws
        -> AsyncThrowingStream<StoreEvent, any Error>
    {
        try watches.take()
        let first: HTTPClientResponse
        do {
            first = try await openWatch(key, recursive: recursive, fromIndex: fromIndex)
        } catch {
            watches.release()
            throw error
        }
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(maxPendingEvents))
        // Where a re-issued request starts: the server's index at the start of a watch "from now".
        let start = fromIndex ?? first.headers.first(name: "X-Etcd-Index").flatMap(UInt64.init).map(Self.after)
        let progress = WatchProgress(next: start)
        let store = self
        let reader = Task {
            defer { store.watches.release() }
            var response = first
            do {
                while try await store.read(response, into: continuation, progress) {
                    store.watchReissues.increment()
                    response = try await store.openWatch(key, recursive: recursive, fromIndex: progress.next)
                }
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in reader.cancel() }
        return stream
    }

    func openWatch(_ key: String, recursive: Bool, fromIndex: UInt64?) async throws -> HTTPClientResponse {
        var query = ["wait": "true", "stream": "true", "recursive": String(recursive)]
        if let fromIndex { query["waitIndex"] = String(fromIndex) }
        if watchHeartbeatSeconds > 0 { query[V2Heartbeat.parameter] = String(watchHeartbeatSeconds) }
        // The deadline covers the response head only; silence in the body is watchIdleTimeout's.
        let response = try await clients.watches.execute(makeRequest(.GET, key, query: query, form: nil),
                                                timeout: requestTimeout)
        guard response.status == .ok else {
            throw try await Self.error(from: response)
        }
        heartbeats.note(sendsHeartbeats(response))
        return response
    }

    /// Whether `response` (a watch's) will carry heartbeats: asked for, and the server named them.
    func sendsHeartbeats(_ response: HTTPClientResponse) -> Bool {
        watchHeartbeatSeconds > 0 && Self.names(V2Heartbeat.feature, in: response.headers)
    }

    /// How long a watch's response may go unheard before it is re-issued: three heartbeats when
    /// the server sends them (one late beat is not a dead connection), else ``watchIdleTimeout``.
    func silenceLimit(heartbeats: Bool) -> Duration {
        heartbeats ? min(watchIdleTimeout, .seconds(3 * watchHeartbeatSeconds)) : watchIdleTimeout
    }

    /// What ``silenceLimit(heartbeats:)`` is for the latest watch's response.
    public var watchSilenceLimit: Duration? { silenceLimit(heartbeats: heartbeats.named) }

    /// The heartbeat interval a watch asks for by default: a third of the smallest silence
    /// bound a fleetd's followers use at the default TTL (10 s), so they leave quiet watches be.
    public static let defaultWatchHeartbeatSeconds = 3

    /// Delivers the events of one response. Returns true when it fell silent for
    /// ``watchSilenceLimit`` (re-issue it), false when the stream is over (finished here).
    private func read(_ response: HTTPClientResponse,
                      into continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation,
                      _ progress: WatchProgress) async throws -> Bool {
        let idle = silenceLimit(heartbeats: sendsHeartbeats(response))
        progress.heard()
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await deliverLines(of: response, into: continuation, progress)
                return false
            }
            group.addTask {
                while !Task.isCancelled {
                    let deadline = progress.lastHeard + idle
                    if ContinuousClock.now >= deadline { return true }
                    try? await Task.sleep(until: deadline, clock: .continuous)
                }
                return false
            }
            let silent = try await group.next() ?? false
            group.cancelAll()  // a silent response's reader is cancelled, which cancels its request
            return silent
        }
    }

    private func deliverLines(of response: HTTPClientResponse,
                              into continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation,
                              _ progress: WatchProgress) async throws {
        var pending: [UInt8] = []
        let decoder = JSONDecoder()
        for try await chunk in response.body {
            progress.heard()
            pending.append(contentsOf: chunk.readableBytesView)
            // A chunk may hold many lines (the store writes the events of a commit together):
            // take them all, then drop what was read once, not line by line.
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1 }
                guard newline > start else { continue }  // a heartbeat: heard, nothing to deliver
                let line = Data(pending[start..<newline])
                if let event = try? decoder.decode(V2Event.self, from: line).storeEvent {
                    switch continuation.yield(event) {
                    case .terminated: return
                    case .dropped: throw StoreError.watchFellBehind(at: event.index, limit: maxPendingEvents)
                    default: progress.delivered(event.index)
                    }
                } else if let error = try? decoder.decode(V2Error.self, from: line) {
                    throw error.storeError
                }
            }
            pending.removeSubrange(..<start)
            guard pending.count <= Self.maxWatchLineBytes else {
                throw StoreError(.unavailable, "the store sent a watch line over \(Self.maxWatchLineBytes) bytes")
            }
        }
        if !Task.isCancelled { continuation.finish() }
    }

    /// One event of a streaming watch is one line; a server sending more without a newline is
    /// not a keys API. Far above two values at the keys API's body limit, JSON-escaped.
    static let maxWatchLineBytes = 16 << 20

    /// The index after `index`, saturating (it came over the network).
    static func after(_ index: UInt64) -> UInt64 { index == .max ? .max : index + 1 }
}

/// What a watch's reader shares with its silence check: where to resume, when it last heard.
final class WatchProgress: Sendable {
    private let state: Mutex<(next: UInt64?, lastHeard: ContinuousClock.Instant)>

    init(next: UInt64?) {
        state = Mutex((next, ContinuousClock.now))
    }

    var next: UInt64? { state.withLock { $0.next } }
    var lastHeard: ContinuousClock.Instant { state.withLock { $0.lastHeard } }

    func heard() { state.withLock { $0.lastHeard = .now } }
    func delivered(_ index: UInt64) { state.withLock { $0.next = RemoteStore.after(index) } }
}

/// Whether the server named heartbeats in its reply to the latest watch (one server per store,
/// so one answer; it changes only when that server is replaced by another version).
final class HeartbeatNote: Sendable {
    private let state = Mutex(false)
    var named: Bool { state.withLock { $0 } }
    func note(_ named: Bool) { state.withLock { $0 = named } }
}

/// Counts re-issued watch requests.
package final class ReissueCounter: Sendable {
    private let count = Mutex(0)
    package var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}
