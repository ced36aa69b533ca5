import FleetAPI
import FleetIdentity
import FleetRegistry
import FleetRemoteStore
import FleetStore
import FleetStoreHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// The keys API behind ``RoleMiddleware`` as fleetd serves it on a TLS listener: a machine's
/// schedule write is decided against the engine lease the store holds at that moment.
@Suite struct RoleMiddlewareTests {
    static let lease = "/fleet/lease/engine-leader"
    static let assignment = "/fleet/schedule/m2/a.service"

    /// Sets the request's peer as ``PeerIdentityMiddleware`` would from a client certificate.
    struct AsPeer: RouterMiddleware {
        typealias Context = FleetRequestContext
        let peer: PeerIdentity

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
            async throws -> Response
        {
            var context = context
            context.peer = peer
            return try await next(request, context)
        }
    }

    /// The keys API over `store`, as `peer`, with the lease read by `leader`.
    func app(_ store: InMemoryStore, as peer: PeerIdentity,
             leader: @escaping RoleMiddleware.EngineLeaderLookup) -> some ApplicationProtocol {
        let router = Router(context: FleetRequestContext.self)
        var logger = Logger(label: "role-test")
        logger.logLevel = .critical
        router.add(middleware: AsPeer(peer: peer))
        router.add(middleware: RoleMiddleware(policy: RolePolicy(prefix: "/fleet"), engineLeader: leader,
                                              metrics: APIMetrics(), logger: logger))
        KeysAPI(store: store, clientURLs: []).addRoutes(to: router)
        return Application(router: router, logger: logger)
    }

    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    @Test func aMachineSchedulesOnlyWhileItHoldsTheLease() async throws {
        let store = InMemoryStore()
        _ = try await store.set(Self.lease, "m2")
        let m1 = PeerIdentity(role: .machine, machineID: "m1")
        try await app(store, as: m1, leader: { try await store.value(Self.lease) }).test(.router) { client in
            try await client.execute(uri: "/v2/keys" + Self.assignment, method: .put, headers: Self.form,
                                     body: ByteBuffer(string: "value=rogue")) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains(#""errorCode":110"#))
            }
            #expect(try await store.getIfPresent(Self.assignment) == nil, "a refused write changed the store")
            try await client.execute(uri: "/v2/keys" + Self.lease, method: .delete) { response in
                #expect(response.status == .forbidden, "another machine's lease was deleted")
            }
            #expect(try await store.value(Self.lease) == "m2")

            // Leadership moves to m1 (m2's lease lapsed, m1 took it): now its writes go through.
            _ = try await store.set(Self.lease, "m1")
            try await client.execute(uri: "/v2/keys" + Self.assignment, method: .put, headers: Self.form,
                                     body: ByteBuffer(string: "value=placed")) { response in
                #expect(response.status == .created)
            }
            #expect(try await store.value(Self.assignment) == "placed")
        }
    }

    /// The engine of a machine that does not lead tries the lease every pass, through its
    /// remote store: it must get the store's answer (not leading), not a 403 it would take for
    /// a store failure. And it takes the lease once it is free.
    @Test func anEngineThatDoesNotLeadStillTriesTheLeaseAndTakesItWhenFree() async throws {
        let store = InMemoryStore()
        let m2Term = try #require(try await Registry(store: store).acquireLease(MachineID("m2"), ttl: 60))
        let m1 = PeerIdentity(role: .machine, machineID: "m1")
        try await app(store, as: m1, leader: { try await store.value(Self.lease) }).test(.live) { client in
            let remote = Registry(store: RemoteStore(url: "http://127.0.0.1:\(try #require(client.port))"))
            #expect(try await remote.acquireLease(MachineID("m1"), ttl: 60) == nil)
            try await remote.releaseLease(LeaseTerm(machine: MachineID("m1"), createdIndex: m2Term.createdIndex))
            #expect(try await store.value(Self.lease) == "m2", "m1 released m2's lease")
            try await Registry(store: store).releaseLease(m2Term)
            #expect(try await remote.acquireLease(MachineID("m1"), ttl: 60) != nil)
            #expect(try await remote.acquireLease(MachineID("m1"), ttl: 60) != nil, "m1 could not renew its lease")
            #expect(try await store.value(Self.lease) == "m1")
        }
    }

    @Test func aLeaseThatCannotBeReadRefusesTheWriteAndOtherRequestsDoNotReadIt() async throws {
        struct Unreachable: Error {}
        let store = InMemoryStore()
        let reads = Atomic<Int>(0)
        let m1 = PeerIdentity(role: .machine, machineID: "m1")
        try await app(store, as: m1, leader: {
            reads.add(1, ordering: .relaxed)
            throw Unreachable()
        }).test(.router) { client in
            try await client.execute(uri: "/v2/keys/fleet/states/a.service/m1", method: .put, headers: Self.form,
                                     body: ByteBuffer(string: "value=up")) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/v2/keys" + Self.assignment, method: .get) { response in
                #expect(response.status == .notFound)
            }
            #expect(reads.load(ordering: .relaxed) == 0, "the lease was read for a request that does not depend on it")
            try await client.execute(uri: "/v2/keys" + Self.assignment, method: .put, headers: Self.form,
                                     body: ByteBuffer(string: "value=x")) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("could not be read"))
            }
            #expect(reads.load(ordering: .relaxed) == 1)
            #expect(try await store.getIfPresent(Self.assignment) == nil)
        }
    }

    /// A batch passes the role check only when every write in it would: a machine's batch with
    /// another machine's state is refused whole (etcd's shape) and writes nothing; its own
    /// batch reaches the route with its body intact.
    @Test func aMachinesBatchIsCheckedWriteByWrite() async throws {
        let store = InMemoryStore()
        _ = try await store.set(Self.lease, "m2")
        let m1 = PeerIdentity(role: .machine, machineID: "m1")
        @Sendable func body(_ keys: [String]) throws -> ByteBuffer {
            let writes = keys.map { V2Batch.Write(method: "PUT", key: $0, form: "value=up") }
            return ByteBuffer(data: try JSONEncoder().encode(V2Batch.Request(writes: writes)))
        }
        let json: HTTPFields = [.contentType: "application/json"]
        try await app(store, as: m1, leader: { try await store.value(Self.lease) }).test(.router) { client in
            for keys in [["/fleet/states/a.service/m1", "/fleet/states/a.service/m2"],
                         ["/fleet/states/a.service/m1", Self.assignment]] {
                try await client.execute(uri: "/v2/batch", method: .post, headers: json, body: try body(keys)) { response in
                    #expect(response.status == .forbidden, "\(keys)")
                    #expect(String(buffer: response.body).contains(#""errorCode":110"#))
                }
            }
            #expect(try await store.getIfPresent("/fleet/states/a.service/m1") == nil, "a refused batch wrote")
            try await client.execute(uri: "/v2/batch", method: .post, headers: json,
                                     body: try body(["/fleet/states/a.service/m1", "/discovery/web/m1"])) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":201"#))
            }
            #expect(try await store.value("/fleet/states/a.service/m1") == "up")
            #expect(try await store.value("/discovery/web/m1") == "up")
            try await client.execute(uri: "/v2/batch", method: .post, headers: json, body: ByteBuffer(string: "[")) { response in
                #expect(response.status == .badRequest, "a batch that cannot be read is refused before the route")
            }
        }
    }

    /// Puts another body in place of the request's, as a middleware after the role check could.
    struct SwapBody: RouterMiddleware {
        typealias Context = FleetRequestContext
        let body: ByteBuffer

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
            async throws -> Response
        {
            var request = request
            request.body = RequestBody(buffer: body)
            return try await next(request, context)
        }
    }

    /// The batch route applies the writes the role check judged, parsed once there, not a second
    /// reading of the body: a body changed after the check does not get its writes through.
    @Test func theBatchRouteAppliesTheWritesTheRoleCheckJudged() async throws {
        let store = InMemoryStore()
        let m1 = PeerIdentity(role: .machine, machineID: "m1")
        @Sendable func body(_ key: String) throws -> ByteBuffer {
            ByteBuffer(data: try JSONEncoder().encode(V2Batch.Request(writes: [V2Batch.Write(method: "PUT", key: key, form: "value=up")])))
        }
        let router = Router(context: FleetRequestContext.self)
        var logger = Logger(label: "role-test")
        logger.logLevel = .critical
        router.add(middleware: AsPeer(peer: m1))
        router.add(middleware: RoleMiddleware(policy: RolePolicy(prefix: "/fleet"), engineLeader: { nil },
                                              metrics: APIMetrics(), logger: logger))
        router.add(middleware: SwapBody(body: try body("/fleet/states/a.service/m2")))
        KeysAPI(store: store, clientURLs: []).addRoutes(to: router)
        try await Application(router: router, logger: logger).test(.router) { client in
            try await client.execute(uri: "/v2/batch", method: .post, headers: [.contentType: "application/json"],
                                     body: try body("/fleet/states/a.service/m1")) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(try await store.value("/fleet/states/a.service/m1") == "up")
        #expect(try await store.getIfPresent("/fleet/states/a.service/m2") == nil, "another machine's state was written")
    }
}
