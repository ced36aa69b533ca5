import FleetRemoteStore
import FleetStore
import FleetStoreEmbedded
import FleetStoreHTTP
import FleetStoreTesting
import FleetTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Testing

/// The store behind the one a test talks to, for what only the backend can do: expire keys on
/// the manual clock.
struct StoreBacking: Sendable {
    let expire: @Sendable () async throws -> Void

    init(_ store: InMemoryStore) { expire = { await store.expireDueKeys() } }
    init(_ store: EmbeddedStore) { expire = { try await store.expireDueKeys() } }

    func expireDueKeys() async {
        do {
            try await expire()
        } catch {
            Issue.record("expiring due keys failed: \(error)")
        }
    }
}

/// The backends the conformance suite runs against.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case inMemory
    /// An EmbeddedStore on a fresh SQLite file in a temporary directory.
    case embedded
    /// An InMemoryStore served by the keys API and reached through RemoteStore over real HTTP.
    case remoteOverHTTP

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh store of this kind, the backing store behind it and its manual clock.
    func with(_ body: @Sendable (any KeyValueStore, StoreBacking, ManualTime) async throws -> Void) async throws {
        let time = ManualTime()
        switch self {
        case .inMemory:
            let store = InMemoryStore(historyLimit: 50, now: { time.now })
            try await body(store, StoreBacking(store), time)
        case .embedded:
            try await withTemporaryDirectory { directory in
                let store = try EmbeddedStore(path: directory + "/store.db", historyLimit: 50, now: { time.now })
                do {
                    try await body(store, StoreBacking(store), time)
                } catch {
                    await store.close()
                    throw error
                }
                await store.close()
            }
        case .remoteOverHTTP:
            let backing = InMemoryStore(historyLimit: 50, now: { time.now })
            try await withKeysServer(backing) { url in
                try await body(RemoteStore(url: url), StoreBacking(backing), time)
            }
        }
    }
}

/// A new empty directory under the system's temporary directory, removed after `body`.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("fleet-store-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// Serves `store` on a loopback port (`port`, or one chosen by the kernel) for the duration of `body`.
func withKeysServer(_ store: any KeyValueStore, port: Int = 0, asOlderServer: Bool = false,
                    refusingBatches: Bool = false, batchReplies: (@Sendable (Int) -> Void)? = nil,
                    withoutHeartbeats: Bool = false,
                    _ body: @Sendable (String) async throws -> Void) async throws {
    let router = Router()
    if asOlderServer { router.add(middleware: OlderKeysAPI()) }
    if withoutHeartbeats { router.add(middleware: HeartbeatsWithheld()) }
    if refusingBatches || batchReplies != nil {
        router.add(middleware: BatchReplies(refusing: refusingBatches, seen: batchReplies ?? { _ in }))
    }
    KeysAPI(store: store, clientURLs: []).addRoutes(to: router)
    let (ports, portSink) = AsyncStream<Int>.makeStream()
    var quiet = Logger(label: "keys-api-test")
    quiet.logLevel = .critical  // stopping the server at the end of a test is expected, not news
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                          onServerRunning: { channel in
                              portSink.yield(channel.localAddress?.port ?? 0)
                              portSink.finish()
                          }, logger: quiet)
    try await whileRunning(app, logger: quiet) {
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body("http://127.0.0.1:\(port)")
    }
}

/// A keys API as fleetd served it before attached keys: `owner` is not a parameter it knows (so
/// the value is stored for ever), and no reply says what it can do beyond etcd v2.
struct OlderKeysAPI<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let query = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("owner=") }.joined(separator: "&")
        var head = request.head
        head.path = request.uri.path + (query.isEmpty ? "" : "?" + query)
        var response = try await next(Request(head: head, body: request.body), context)
        response.headers[HTTPField.Name("X-Fleet-Store-Features")!] = nil
        response.headers[HTTPField.Name("X-Fleet-Owner-Checked")!] = nil
        return response
    }
}

/// A keys API that names heartbeats but sends none: what a watch sees of a server that froze
/// (or a connection that died) once it has said it sends them.
struct HeartbeatsWithheld<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let query = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("heartbeat=") }.joined(separator: "&")
        var head = request.head
        head.path = request.uri.path + (query.isEmpty ? "" : "?" + query)
        return try await next(Request(head: head, body: request.body), context)
    }
}

/// Tells of each `POST /v2/batch` reply's status, or answers 404 to every batch (a server that
/// no longer takes them) while its other replies still name the feature.
struct BatchReplies<Context: RequestContext>: RouterMiddleware {
    let refusing: Bool
    let seen: @Sendable (Int) -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path == V2Batch.path else { return try await next(request, context) }
        let response = refusing ? Response(status: .notFound) : try await next(request, context)
        seen(Int(response.status.code))
        return response
    }
}
