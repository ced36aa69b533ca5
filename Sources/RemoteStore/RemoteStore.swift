import AsyncHTTPClient
import FleetStore
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A ``KeyValueStore`` that is another server's etcd-v2 keys API: a `fleetd` holding the
/// embedded store (so a small cluster shares one store), or anything else speaking that API.
///
/// Watches use `stream=true`, one long-lived request per watch with one event per line, so a
/// burst of changes costs one connection, not one request per event; a watch silent for
/// ``watchIdleTimeout`` is re-issued from its index (`RemoteStore+Watch.swift`).
public struct RemoteStore: KeyValueStore {
    let clients: Clients
    /// e.g. `http://10.77.0.11:4001`, without a trailing slash.
    public let baseURL: String
    let requestTimeout: TimeAmount
    /// How far behind a watch may fall before it ends with `indexCleared`.
    let maxPendingEvents: Int
    /// Watches open through this store (every copy of it), at most `watchLimits.maxWatchers`.
    public let watches: WatchBudget
    /// How long a watch's response may stay silent before the request is made again from the
    /// watch's index. The keys API sends nothing while nothing changes, so silence cannot tell a
    /// quiet key from a connection that died without a word (a network cut, a frozen server);
    /// re-issuing costs one request per quiet watch per period and bounds how long a dead one
    /// goes unnoticed.
    public let watchIdleTimeout: Duration
    /// Seconds between heartbeats a watch asks its server for (``V2Heartbeat``), 0 for none. A
    /// server that sends them has a watch's response re-issued after three intervals unheard
    /// rather than after ``watchIdleTimeout``, and a quiet watch is then never made anew while
    /// its connection lives (``watchSilenceLimit``).
    public let watchHeartbeatSeconds: Int
    /// Whether the server named heartbeats in its reply to the latest watch.
    let heartbeats = HeartbeatNote()
    /// Watch requests re-issued after a silence (diagnostics and tests).
    package let watchReissues = ReissueCounter()
    /// The key ``currentIndex()`` reads (every keys API answer carries the store's index): the
    /// root, unless the client may read only part of the store, as a `discovery-reader`
    /// certificate may read only `/discovery` (fleet-dns).
    public let indexKey: String
    /// Writes other than TTL refreshes go through it: batched while the server takes batches.
    let writes: RemoteWriteBatcher
    /// Requests that carried more than one write (diagnostics and tests).
    package var batchedRequests: Int { writes.batchedRequests }

    public init(url: String, client: HTTPClient = RemoteStore.defaultClient, requestTimeout: TimeAmount = .seconds(5),
                watchLimits: WatchLimits = WatchLimits(), watchIdleTimeout: Duration = .seconds(60),
                watchHeartbeatSeconds: Int = RemoteStore.defaultWatchHeartbeatSeconds, indexKey: String = "/") {
        self.init(url: url, clients: Clients(client), requestTimeout: requestTimeout, watchLimits: watchLimits,
                  watchIdleTimeout: watchIdleTimeout, watchHeartbeatSeconds: watchHeartbeatSeconds, indexKey: indexKey)
    }

    /// A store reached through separate pools of connections (``Clients``).
    public init(url: String, clients: Clients, requestTimeout: TimeAmount = .seconds(5),
                watchLimits: WatchLimits = WatchLimits(), watchIdleTimeout: Duration = .seconds(60),
                watchHeartbeatSeconds: Int = RemoteStore.defaultWatchHeartbeatSeconds, indexKey: String = "/") {
        self.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.indexKey = indexKey
        self.clients = clients
        self.requestTimeout = requestTimeout
        self.watchIdleTimeout = max(watchIdleTimeout, .milliseconds(10))
        self.watchHeartbeatSeconds = min(max(watchHeartbeatSeconds, 0), V2Heartbeat.maxSeconds)
        self.maxPendingEvents = watchLimits.maxPendingEvents
        self.watches = WatchBudget(limit: watchLimits.maxWatchers)
        self.writes = RemoteWriteBatcher()
    }

    public func get(_ key: String, recursive: Bool) async throws -> StoreNode {
        let (event, _) = try await send(.GET, key, query: ["recursive": String(recursive), "sorted": "true"])
        return event.node
    }

    public func apply(_ write: StoreWrite) async throws -> StoreEvent {
        // Refused here as the server would refuse it, without a round trip.
        try write.validate()
        switch write {
        case let .set(key, value, ttl, condition):
            var form: [String: String] = [:]
            var query = Self.query(for: condition)
            if let value { form["value"] = value } else { query["dir"] = "true" }
            if let ttl { form["ttl"] = String(ttl) }
            return try await writes.submit(.init(method: .PUT, key: key, query: query, form: form,
                                                 guarded: condition.guardedBy != nil, attached: false), through: self)
        case let .refresh(key, ttl, condition):
            var query = Self.query(for: condition)
            query["refresh"] = "true"
            if query["prevExist"] == nil { query["prevExist"] = "true" }
            return try await send(.PUT, key, query: query, form: ["ttl": String(ttl)],
                                  guarded: condition.guardedBy != nil, through: clients.refreshes).event
        case let .attach(key, value, owner, condition):
            var query = Self.query(for: condition)
            query["owner"] = owner
            return try await writes.submit(.init(method: .PUT, key: key, query: query, form: ["value": value],
                                                 guarded: condition.guardedBy != nil, attached: true), through: self)
        case let .createInOrder(key, value, ttl):
            var form = ["value": value]
            if let ttl { form["ttl"] = String(ttl) }
            return try await writes.submit(.init(method: .POST, key: key, query: [:], form: form,
                                                 guarded: false, attached: false), through: self)
        case let .delete(key, directory, recursive, condition):
            var query = Self.query(for: condition)
            if directory { query["dir"] = "true" }
            if recursive { query["recursive"] = "true" }
            return try await writes.submit(.init(method: .DELETE, key: key, query: query, form: nil,
                                                 guarded: condition.guardedBy != nil, attached: false), through: self)
        }
    }

    /// Asks the server whether it attaches keys: one `HEAD` of the index key, whose reply names
    /// the keys API's extensions (and has no body to read); an error counts as no.
    public func supportsAttachedKeys() async -> Bool {
        guard let response = try? await clients.requests.execute(makeRequest(.HEAD, indexKey, query: [:], form: nil),
                                                      timeout: requestTimeout) else { return false }
        return Self.names("attach", in: response.headers)
    }

    /// Whether a reply's `X-Fleet-Store-Features` (what a fleet keys API does beyond etcd v2's;
    /// etcd sends none) lists `feature`.
    static func names(_ feature: String, in headers: HTTPHeaders) -> Bool {
        let features = headers.first(name: "X-Fleet-Store-Features") ?? ""
        return features.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == feature }
    }

    public func currentIndex() async throws -> UInt64 {
        do {
            return try await send(.GET, indexKey, query: [:]).index
        } catch let error as StoreError where error.code == .keyNotFound && indexKey != "/" {
            return error.index  // an etcd error carries the store's index too
        }
    }

    static func query(for condition: StoreCondition) -> [String: String] {
        var query: [String: String] = [:]
        if let prevExist = condition.prevExist { query["prevExist"] = String(prevExist) }
        if let prevIndex = condition.prevIndex { query["prevIndex"] = String(prevIndex) }
        if let prevValue = condition.prevValue { query["prevValue"] = prevValue }
        if let storeGuard = condition.guardedBy {
            query["guardKey"] = storeGuard.key
            query["guardIndex"] = String(storeGuard.createdIndex)
            if let value = storeGuard.value { query["guardValue"] = value }
        }
        return query
    }

    func makeRequest(_ method: HTTPMethod, _ key: String, query: [String: String], form: [String: String]?)
        -> HTTPClientRequest
    {
        let path = key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? key
        let queryString = Self.formEncode(query)
        var request = HTTPClientRequest(url: baseURL + "/v2/keys" + path + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = method
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: Self.formEncode(form)))
        }
        return request
    }

    /// One request, through `client` (``Clients/requests`` unless another is named); `guarded`
    /// writes must come back confirmed by `X-Fleet-Guard-Checked`, and `attached` ones by
    /// `X-Fleet-Owner-Checked`.
    func send(_ method: HTTPMethod, _ key: String, query: [String: String] = [:], form: [String: String]? = nil,
              guarded: Bool = false, attached: Bool = false, through client: HTTPClient? = nil) async throws
        -> (event: StoreEvent, index: UInt64)
    {
        let response = try await (client ?? clients.requests).execute(makeRequest(method, key, query: query, form: form),
                                                                      timeout: requestTimeout)
        guard (200..<300).contains(response.status.code) else {
            throw try await Self.error(from: response)
        }
        writes.noteFeatures(batches: Self.names(V2Batch.feature, in: response.headers))
        if guarded && response.headers.first(name: "X-Fleet-Guard-Checked") != "true" {
            // Too late to undo, but the caller must not take the write for a fenced one.
            throw StoreError(.unavailable, "\(method) \(key): \(baseURL) ignored the write's guard "
                             + "(not a fleet keys API?); fenced writes need fleetd's store or etcd v3")
        }
        let body = try await response.body.collect(upTo: 256 << 20)
        guard let event = try JSONDecoder().decode(V2Event.self, from: body).storeEvent else {
            throw StoreError(.unavailable, "\(method) \(key): the server's reply names an unknown action")
        }
        if attached && response.headers.first(name: "X-Fleet-Owner-Checked") != "true" {
            // A server without the extension stored a value that never goes: take it back
            // (compare-and-delete on its index) and refuse the write.
            _ = try? await send(.DELETE, key, query: ["prevIndex": String(event.node.modifiedIndex)])
            throw StoreError(.unavailable, "\(method) \(key): \(baseURL) does not attach keys to an owner "
                             + "(an older fleetd?); the value was taken back")
        }
        let index = response.headers.first(name: "X-Etcd-Index").flatMap(UInt64.init) ?? event.index
        return (event, index)
    }

    static func error(from response: HTTPClientResponse) async throws -> StoreError {
        let body = try await response.body.collect(upTo: 1 << 20)
        if let error = try? JSONDecoder().decode(V2Error.self, from: body) {
            return error.storeError
        }
        return StoreError(.unavailable, "the store answered HTTP \(response.status.code): \(String(buffer: body))")
    }

    static let formAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    static func formEncode(_ fields: [String: String]) -> String {
        fields.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: formAllowed) ?? $0.value)" }
            .joined(separator: "&")
    }
}
