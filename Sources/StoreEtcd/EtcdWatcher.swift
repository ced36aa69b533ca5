import FleetStore
import Foundation
import Synchronization

/// One watch's loop: open the v3 watch on a member, deliver, and reopen elsewhere on failure.
struct EtcdWatcher: Sendable {
    enum StreamEnd: Sendable {
        /// The stream ended for good (`nil`: the consumer left).
        case finished((any Error & Sendable)?)
        /// The connection or the member failed; open it again.
        case reconnect(String)
    }

    /// What one connection's reader shares with the loop and the liveness check around it.
    final class Progress: Sendable {
        /// The first revision not yet delivered.
        let next: Mutex<Int64>
        /// When the member last sent anything (a created answer, events, progress).
        let lastHeard = Mutex(ContinuousClock.now)
        /// Set when a connection got as far as a created watch.
        let connected = Mutex(false)

        init(next: Int64) {
            self.next = Mutex(next)
        }

        func heard() { lastHeard.withLock { $0 = .now } }
    }

    let store: EtcdStore
    let key: String
    let recursive: Bool
    let continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation

    func run(from start: Int64) async {
        let progress = Progress(next: start)
        var endpoint = store.gateway.preferredEndpoint
        var failures = 0
        while !Task.isCancelled {
            let reason: String
            progress.connected.withLock { $0 = false }
            do {
                switch try await supervisedStream(progress, endpoint: endpoint) {
                case .finished(let error):
                    continuation.finish(throwing: error)
                    return
                case .reconnect(let why):
                    reason = why
                }
            } catch let failure as EtcdGateway.AttemptFailure {
                if case .final(let error) = failure, error.code == .indexCleared {
                    continuation.finish(throwing: error)
                    return
                }
                reason = "\(failure)"
            } catch {
                reason = "\(error)"
            }
            if Task.isCancelled { break }
            if progress.connected.withLock({ $0 }) { failures = 0 }
            let count = store.gateway.endpoints.count
            let following = (endpoint + 1) % count
            store.logger.debug("etcd watch reconnecting", metadata: [
                "store.key": "\(key)", "store.index": "\(progress.next.withLock { $0 })",
                "etcd.endpoint": "\(store.gateway.endpoints[endpoint])", "etcd.failure": "\(reason)",
            ])
            store.gateway.noteWatchReconnect(from: endpoint, to: following)
            endpoint = following
            failures += 1
            if failures >= count {
                // Every member failed in turn: wait a little longer each round, up to a second.
                let pause = Duration.milliseconds(min(25 << min(failures / count, 6), 1000))
                try? await Task.sleep(for: pause)
            }
        }
        continuation.finish()
    }

    /// Runs one connection beside a liveness check. A member that dies closes the connection,
    /// but one that is frozen or cut off by the network leaves it silently open: when the watch
    /// has heard nothing for a while, the member must answer a read (which needs a leader), or
    /// the connection is abandoned for the next member.
    private func supervisedStream(_ progress: Progress, endpoint: Int) async throws -> StreamEnd {
        let interval = store.configuration.watchIdleCheck
        let confirmBy = ContinuousClock.now + store.configuration.connectTimeout + store.configuration.attemptTimeout
        return try await withThrowingTaskGroup(of: StreamEnd.self) { group in
            group.addTask { try await stream(progress, endpoint: endpoint) }
            group.addTask {
                // A member answers a new watch with "created" at once; a watch it never confirms
                // is stuck on our side or its, whatever the member answers to reads.
                try await Task.sleep(until: confirmBy)
                if !progress.connected.withLock({ $0 }) {
                    return .reconnect("the member did not confirm the watch")
                }
                while true {
                    try await Task.sleep(for: interval)
                    if ContinuousClock.now - progress.lastHeard.withLock({ $0 }) < interval { continue }
                    if await store.gateway.isServing(endpoint: endpoint, key: store.keyspace.directoryKey("/")) {
                        progress.heard()
                        continue
                    }
                    return .reconnect("the member stopped answering")
                }
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    /// The watch's key range: the key itself and, when recursive, everything below it. Keys that
    /// merely start with the same bytes (`/a-b` for `/a`) fall in the range too and are filtered.
    private var range: (start: Data, end: Data?) {
        let keyspace = store.keyspace
        if key == "/" {
            return recursive ? (keyspace.directoryKey(key), keyspace.subtreeEnd(key)) : (keyspace.directoryKey(key), nil)
        }
        return recursive ? (keyspace.valueKey(key), keyspace.subtreeEnd(key))
            : (keyspace.valueKey(key), keyspace.childrenStart(key))
    }

    private func stream(_ progress: Progress, endpoint: Int) async throws -> StreamEnd {
        let (start, end) = range
        let create = EtcdWatchRequest.Create(key: start, rangeEnd: end,
                                             startRevision: String(progress.next.withLock { $0 }),
                                             prevKV: true, progressNotify: true)
        let request = EtcdWatchRequest(createRequest: create)
        var leaseGone: [Int64: Bool] = [:]
        if let grpc = store.gateway.grpc {
            // "hasleader" makes the member end the watch when it loses its leader, instead of
            // leaving us watching a member cut off from the cluster (etcd's WithRequireLeader).
            var outcome: StreamEnd?
            let ended = try await grpc.stream(store.gateway.endpoints[endpoint], method: "/etcdserverpb.Watch/Watch",
                                              message: request.protobuf, metadata: [("hasleader", "true")],
                                              openTimeout: store.configuration.attemptTimeout) { message in
                progress.heard()
                let answer = try EtcdGateway.decode(EtcdWatchResponse.self, fromProtobuf: message, path: "Watch")
                outcome = await handle(answer, progress, leaseGone: &leaseGone)
                return outcome == nil
            }
            return outcome ?? .reconnect(ended)
        }
        let body = try JSONEncoder().encode(request)
        let response = try await store.gateway.openStream("/v3/watch", body, endpoint: endpoint,
                                                          headers: [("Grpc-Metadata-hasleader", "true")])
        var pending: [UInt8] = []
        for try await chunk in response.body {
            progress.heard()
            pending.append(contentsOf: chunk.readableBytesView)
            var consumed = 0
            defer { pending.removeFirst(consumed) }
            while let newline = pending[consumed...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(pending[consumed..<newline])
                consumed = newline + 1
                guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { continue }
                let decoded = try EtcdGateway.decode(EtcdStreamLine<EtcdWatchResponse>.self, from: line,
                                                     path: "/v3/watch")
                if let error = decoded.error {
                    return .reconnect("etcd: \(error.message ?? "stream error \(error.grpcCode ?? 0)")")
                }
                guard let result = decoded.result else { continue }
                if let outcome = await handle(result, progress, leaseGone: &leaseGone) { return outcome }
            }
        }
        return .reconnect("the member closed the watch")
    }

    /// One answer of the watch, whichever way it came: delivers its events; nil to go on
    /// reading, or how the stream ends.
    private func handle(_ result: EtcdWatchResponse, _ progress: Progress,
                        leaseGone: inout [Int64: Bool]) async -> StreamEnd? {
        if let revision = result.header?.revision.value { store.gateway.noteRevision(revision) }
        if result.canceled == true {
            if result.compactRevision.value > 0 {
                let asked = progress.next.withLock { $0 }
                let cause = "the requested history has been cleared [\(result.compactRevision.value)/\(asked)]"
                return .finished(StoreError(.indexCleared, cause, index: store.knownIndex))
            }
            return .reconnect("watch canceled: \(result.cancelReason ?? "no reason given")")
        }
        if result.created == true {
            progress.connected.withLock { $0 = true }
            return nil
        }
        guard let events = result.events, let last = events.last else {
            // A progress notification: sent only to watchers that are caught up, so
            // everything up to its revision has been delivered.
            if let revision = result.header?.revision.value, revision > 0 {
                progress.next.withLock { $0 = max($0, revision.nextRevision) }
            }
            return nil
        }
        let current = progress.next.withLock { $0 }
        for event in events {
            // Never repeat: a revision below `next` was delivered before a reconnect.
            if event.kv.modRevision.value < current { continue }
            guard let converted = await convert(event, leaseGone: &leaseGone) else { continue }
            switch continuation.yield(converted) {
            case .terminated:
                return .finished(nil)
            case .dropped:
                return .finished(StoreError.watchFellBehind(at: converted.index,
                                                            limit: store.configuration.watchLimits.maxPendingEvents))
            default:
                break
            }
        }
        progress.next.withLock { $0 = max($0, last.kv.modRevision.value.nextRevision) }
        return nil
    }

    private func convert(_ event: EtcdEvent, leaseGone: inout [Int64: Bool]) async -> StoreEvent? {
        guard let (changed, isMarker) = store.keyspace.fleetKey(event.kv.key) else { return nil }
        guard recursive ? StoreKey.isWithin(changed, key) : changed == key else { return nil }
        let prevNode = event.prevKV.map { kv in
            isMarker ? StoreNode(key: changed, isDirectory: true, createdIndex: UInt64(max(0, kv.createRevision.value)),
                                 modifiedIndex: UInt64(max(0, kv.modRevision.value)))
                : EtcdTree.fileNode(kv, key: changed)
        }
        let revision = UInt64(max(0, event.kv.modRevision.value))
        guard event.isDelete else {
            let node = isMarker
                ? StoreNode(key: changed, isDirectory: true, createdIndex: UInt64(max(0, event.kv.createRevision.value)),
                            modifiedIndex: revision)
                : EtcdTree.fileNode(event.kv, key: changed)
            return StoreEvent(action: .set, node: node, prevNode: prevNode)
        }
        var action = StoreAction.delete
        if let lease = event.prevKV?.lease.value, lease != 0 {
            if leaseGone[lease] == nil {
                do {
                    leaseGone[lease] = try await store.timeToLive(lease) == nil
                } catch {
                    leaseGone[lease] = false  // etcd cannot be asked: report a plain delete
                }
            }
            if leaseGone[lease] == true { action = .expire }
        }
        return StoreEvent(action: action,
                          node: StoreNode(key: changed, isDirectory: isMarker,
                                          createdIndex: prevNode?.createdIndex ?? 0, modifiedIndex: revision),
                          prevNode: prevNode)
    }
}
