import FleetHTTPServer
import FleetStore
import FleetStoreHTTP
import FleetTestSupport
import Hummingbird
import Logging
import NIOCore
import Testing

/// The request context fleetd's listeners use, as far as these tests need it.
struct ListenerTestContext: RequestContext, ConnectionAwareContext {
    var coreContext: CoreRequestContextStorage
    let channel: (any Channel)?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Serves `store`'s keys API on a loopback port under `limits`, as fleetd does (its
/// ``HTTPListener``), for `body`.
func withLimitedKeysServer(_ store: any KeyValueStore, limits: ListenerLimits, serverName: String? = nil,
                           _ body: @Sendable (_ port: Int, _ gate: ConnectionGate) async throws -> Void) async throws {
    let router = Router(context: ListenerTestContext.self)
    KeysAPI(store: store, clientURLs: []).addRoutes(to: router)
    let (ports, portSink) = AsyncStream<Int>.makeStream()
    var quiet = Logger(label: "listener-test")
    quiet.logLevel = .critical  // stopping the server at the end of a test is expected, not news
    let gate = ConnectionGate(limit: limits.maxConnections)
    let logger = quiet
    let listener = HTTPListener(router: router, server: .limited(limits, gate: gate, logger: logger),
                                configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: serverName),
                                onServerRunning: { channel in
                                    await AcceptBackoff.install(on: channel, logger: logger)
                                    portSink.yield(channel.localAddress?.port ?? 0)
                                    portSink.finish()
                                }, logger: quiet)
    try await whileRunning(listener, logger: quiet) {
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(port, gate)
    }
}

func request(_ path: String) -> String {
    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
}
