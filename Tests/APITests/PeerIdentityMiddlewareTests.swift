import AsyncHTTPClient
import Foundation
import FleetAPI
import FleetHTTPServer
import FleetIdentity
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOSSL
import Testing

/// fleetd's TCP listener with TLS, as `fleetd --tls-ca/--tls-cert/--tls-key` builds it: the
/// handshake requires a client certificate from the cluster CA, and the request context then
/// knows the client's role and machine.
@Suite("TLS listener")
struct PeerIdentityMiddlewareTests {
    let ca: ClusterCA
    let server: NodeTLS

    init() throws {
        ca = try ClusterCA.create()
        server = try Self.node(ca, LeafRequest(role: .machine, machineID: "m1", ipAddresses: ["127.0.0.1"]))
    }

    static func node(_ ca: ClusterCA, _ request: LeafRequest) throws -> NodeTLS {
        let issued = try ca.issue(request)
        return try NodeTLS(trustRoots: [ca.certificate], certificateChain: [issued.certificate],
                           privateKey: issued.privateKey)
    }

    /// A listener answering `GET /whoami` with the request context's peer, for `body`; it
    /// serves `tls` (by default the `server` certificate).
    func withListener(serving tls: NodeTLS? = nil, _ body: @Sendable (_ port: Int) async throws -> Void) async throws {
        let router = Router(context: FleetRequestContext.self)
        var logger = Logger(label: "tls-test")
        logger.logLevel = .critical
        router.add(middleware: PeerIdentityMiddleware(logger: logger))
        router.get("whoami") { _, context in context.peer?.description ?? "nobody" }
        // Whether the connection's certificate is remembered for its later requests.
        router.get("remembered") { _, _ in ConnectionPeer.current?.remembered == nil ? "no" : "yes" }
        let limits = ListenerLimits(maxConnections: 8, idleTimeout: .seconds(5), maxHeaderBytes: 8192)
        let app = Application(router: router,
                              server: try .limited(limits, gate: ConnectionGate(limit: 8), logger: logger,
                                                   tls: (tls ?? server).serverConfiguration),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
        try await app.test(.live) { client in
            try await body(try #require(client.port))
        }
    }

    /// `GET /whoami` over TLS with `tls`; the body, or the error. A client that refuses the
    /// server retries its connection until `timeout` (AsyncHTTPClient's pool does so).
    @Sendable func whoami(_ port: Int, _ tls: TLSConfiguration, timeout: TimeAmount = .seconds(10))
        async -> Result<String, any Error>
    {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let result: Result<String, any Error>
        do {
            let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/whoami"),
                                                    timeout: timeout)
            result = .success(String(buffer: try await response.body.collect(upTo: 1024)))
        } catch {
            result = .failure(error)
        }
        try? await client.shutdown()
        return result
    }

    /// The request failed, and in TLS (BoringSSL's error), not in HTTP or by a timeout.
    static func expectRefusedInTLS(_ result: Result<String, any Error>, _ what: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        switch result {
        case .success(let body):
            Issue.record("served \(what): \(body)", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error is NIOSSLError || error is BoringSSLError || "\(error)".contains("SSL"),
                    "\(what): failed, but not in TLS: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a client with a certificate from the cluster CA is served, and its identity is known")
    func admitted() async throws {
        let admin = try Self.node(ca, LeafRequest(role: .admin))
        let machine = try Self.node(ca, LeafRequest(role: .machine, machineID: "m2"))
        try await withListener { port in
            let asAdmin = try await whoami(port, admin.clientConfiguration).get()
            let asMachine = try await whoami(port, machine.clientConfiguration).get()
            #expect(asAdmin == "admin")
            #expect(asMachine == "machine m2")
        }
    }

    @Test("the identity is read once per connection and stays that connection's")
    func rememberedPerConnection() async throws {
        let machine2 = try Self.node(ca, LeafRequest(role: .machine, machineID: "m2")).clientConfiguration
        let machine3 = try Self.node(ca, LeafRequest(role: .machine, machineID: "m3")).clientConfiguration
        try await withListener { port in
            let two = HTTPClient(eventLoopGroupProvider: .singleton,
                                 configuration: .init(tlsConfiguration: machine2))
            let three = HTTPClient(eventLoopGroupProvider: .singleton,
                                   configuration: .init(tlsConfiguration: machine3))
            @Sendable func get(_ client: HTTPClient, _ path: String) async throws -> String {
                let response = try await client.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/\(path)"),
                                                        timeout: .seconds(10))
                return String(buffer: try await response.body.collect(upTo: 1024))
            }
            var answers: [String] = []
            // Alternating, each client on its one kept-alive connection.
            for _ in 0..<3 {
                answers.append(try await get(two, "whoami"))
                answers.append(try await get(three, "whoami"))
            }
            let remembered = try await get(two, "remembered")
            try await two.shutdown()
            try await three.shutdown()
            #expect(answers == Array(repeating: ["machine m2", "machine m3"], count: 3).flatMap { $0 })
            #expect(remembered == "yes", "the first request should leave the certificate remembered")
        }
    }

    @Test("a connection's memo keeps the first certificate it is given")
    func memoKeepsTheFirst() throws {
        let first = try #require(try Self.node(ca, LeafRequest(role: .admin)).certificateChain.first)
        let second = try #require(server.certificateChain.first)
        let memo = ConnectionPeer()
        #expect(memo.remembered == nil)
        memo.remember(first)
        memo.remember(second)
        #expect(memo.remembered == first)
    }

    @Test("a client without a certificate, or with one from another CA, is refused in the handshake")
    func refused() async throws {
        var anonymous = server.clientConfiguration
        anonymous.certificateChain = []
        anonymous.privateKey = nil
        let stranger = try Self.node(try ClusterCA.create(), LeafRequest(role: .admin))
        var foreign = stranger.clientConfiguration
        foreign.trustRoots = .certificates(server.trustRoots)  // it trusts our server, we do not trust it
        try await withListener { [anonymous, foreign] port in
            Self.expectRefusedInTLS(await whoami(port, anonymous), "no certificate")
            Self.expectRefusedInTLS(await whoami(port, foreign), "another CA's certificate")
        }
    }

    /// A day-long certificate issued `daysFromNow` (negative: already expired; positive: not
    /// valid yet); `request` says for what.
    func outOfDate(_ request: LeafRequest, daysFromNow: Double) throws -> NodeTLS {
        var request = request
        request.validity = .seconds(86400)
        request.backdate = .zero
        let issued = try ca.issue(request, now: Date().addingTimeInterval(daysFromNow * 86400))
        return try NodeTLS(trustRoots: [ca.certificate], certificateChain: [issued.certificate],
                           privateKey: issued.privateKey)
    }

    @Test("a client whose certificate expired, or is not valid yet, is refused in the handshake",
          arguments: [-7.0, 7.0])
    func outOfDateClient(daysFromNow: Double) async throws {
        let client = try outOfDate(LeafRequest(role: .admin), daysFromNow: daysFromNow).clientConfiguration
        try await withListener { port in
            Self.expectRefusedInTLS(await whoami(port, client), "a certificate issued for \(daysFromNow) days from now")
        }
    }

    @Test("a client that does not trust the cluster CA does not talk to the server")
    func serverChecked() async throws {
        var wrongTrust = try Self.node(ca, LeafRequest(role: .admin)).clientConfiguration
        wrongTrust.trustRoots = .certificates(try Self.node(try ClusterCA.create(), LeafRequest(role: .admin)).trustRoots)
        try await withListener { [wrongTrust] port in
            Self.expectRefusedInTLS(await whoami(port, wrongTrust, timeout: .seconds(1)), "a server of another CA")
        }
    }

    @Test("a server whose certificate expired is refused by the client")
    func expiredServer() async throws {
        let old = try outOfDate(LeafRequest(role: .machine, machineID: "m1", ipAddresses: ["127.0.0.1"]), daysFromNow: -7)
        let admin = try Self.node(ca, LeafRequest(role: .admin)).clientConfiguration
        try await withListener(serving: old) { port in
            Self.expectRefusedInTLS(await whoami(port, admin, timeout: .seconds(1)), "a server with an expired certificate")
        }
    }
}
