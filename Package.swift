// swift-tools-version:6.0
import PackageDescription

// Targets are named Fleet<Concept> and live in the folder the design names (Sources/<Concept>),
// so no type ever shares its module's name. See docs/architecture.md for what each one owns.
let package = Package(
    name: "fleet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fleetd", targets: ["fleetd"]),
        .executable(name: "fleetctl", targets: ["fleetctl"]),
        .executable(name: "fleet-dns", targets: ["fleet-dns"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // etcd's gRPC API (HTTP/2) for the etcd store; already in the graph through async-http-client.
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        // Counts heap allocations for the DNS allocation check (Benchmarks/dns-allocations only).
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.6.1"),
    ],
    targets: [
        // Unit files: parsing, normalisation, hashing, names, [X-Fleet] requirements.
        .target(name: "FleetUnit", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/Unit"),
        // The key-value store contract, the write rules and watch history every local backend
        // shares, the follower, and the in-memory reference backend.
        .target(name: "FleetStore", dependencies: [
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Store"),
        // The durable embedded backend (SQLite in WAL mode, group commit). Only what holds a
        // store links SQLite.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "FleetStoreEmbedded", dependencies: [
            "FleetStore", "CSQLite",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/StoreEmbedded"),
        // fleetd's HTTP listeners under bounds: connection cap, idle timeout, header limits,
        // accept back-off, and noticing a client that left while its response streams.
        .target(name: "FleetHTTPServer", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/HTTPServer"),
        // The client side of the store over HTTP: another server's etcd-v2 keys API as a
        // KeyValueStore, and the v2 wire shapes both sides speak.
        .target(name: "FleetRemoteStore", dependencies: [
            "FleetStore",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Sources/RemoteStore"),
        // The server side: a store served as etcd's v2 keys API (Hummingbird routes).
        .target(name: "FleetStoreHTTP", dependencies: [
            "FleetStore", "FleetRemoteStore", "FleetHTTPServer",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/StoreHTTP"),
        // The store on a real etcd cluster: etcd's v3 API through its JSON gateway.
        .target(name: "FleetStoreEtcd", dependencies: [
            "FleetStore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/StoreEtcd"),
        // The cluster identity: a cluster CA, certificates for roles and machines, TLS
        // configurations for fleetd's listeners and its clients.
        .target(name: "FleetIdentity", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Sources/Identity"),
        // fleet's typed schema over the store.
        .target(name: "FleetRegistry", dependencies: [
            "FleetStore", "FleetUnit", .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Sources/Registry"),
        // Leader election and placement.
        .target(name: "FleetEngine", dependencies: [
            "FleetRegistry",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Engine"),
        // libsystemd's sd-bus, and systemd's manager spoken over it.
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        .target(name: "FleetSystemd", dependencies: ["CSystemd", "FleetUnit"], path: "Sources/Systemd"),
        // This machine's journal through sd-journal (fleetctl journal and status).
        .target(name: "FleetJournal", dependencies: ["CSystemd"], path: "Sources/Journal"),
        // The per-machine agent: presence, running assigned units, publishing their states.
        .target(name: "FleetAgent", dependencies: [
            "FleetRegistry", "FleetSystemd", "FleetDiscovery",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Agent"),
        // Service discovery: records, naming and the key layout, [X-Discovery] parsing, and the
        // registrar with its health checks that keep this machine's records true.
        .target(name: "FleetDiscovery", dependencies: [
            "FleetUnit", "FleetStore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Sources/Discovery"),
        // Linux's recvmmsg/sendmmsg and eventfd, which Swift's Glibc module does not declare.
        .target(name: "CBatchedSockets", path: "Sources/CBatchedSockets"),
        // The discovery DNS server: wire format, zone view fed from the store, responder,
        // forwarder and UDP/TCP listeners. Only fleetd and fleet-dns link it.
        .target(name: "FleetDNS", dependencies: [
            "FleetDiscovery", "FleetStore", "CBatchedSockets",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/DNS"),
        // The mDNS bridge: discovery records of this machine published through avahi-daemon.
        // Its own target so that only fleetd and fleet-dns link libavahi-client.
        .systemLibrary(name: "CAvahi", path: "Sources/CAvahi", providers: [.apt(["libavahi-client-dev"])]),
        .target(name: "FleetMDNS", dependencies: [
            "FleetDiscovery", "FleetStore", "CAvahi",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/MDNS"),
        // fleet's HTTP API v1 as a client sees it: the entities (the wire shape both sides use)
        // and FleetClient. What fleetctl links instead of the server.
        .target(name: "FleetAPIClient", dependencies: [
            "FleetUnit", "FleetRemoteStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], path: "Sources/APIClient"),
        // fleet's HTTP API v1, the server: routes, roles, readiness, metrics.
        .target(name: "FleetAPI", dependencies: [
            "FleetAPIClient", "FleetRegistry", "FleetStoreHTTP", "FleetHTTPServer", "FleetDiscovery", "FleetIdentity",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], path: "Sources/API"),
        .executableTarget(name: "fleetd", dependencies: [
            "FleetAgent", "FleetAPI", "FleetAPIClient", "FleetDNS", "FleetDiscovery", "FleetEngine", "FleetJournal", "FleetMDNS", "FleetStoreEtcd", "FleetUnit",
            "FleetStoreEmbedded", "FleetRemoteStore", "FleetStoreHTTP", "FleetHTTPServer", "FleetIdentity", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "fleetctl", dependencies: [
            "FleetAPIClient", "FleetStore", "FleetUnit", "FleetDiscovery", "FleetIdentity",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .executableTarget(name: "fleet-dns", dependencies: [
            "FleetDNS", "FleetDiscovery", "FleetIdentity", "FleetMDNS", "FleetStore", "FleetRemoteStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Shared by tests and fuzzers: a seeded random number generator; FaultyStore (watches that fail on demand).
        .target(name: "FleetTestSupport", dependencies: [
            "FleetStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/TestSupport"),

        // Not the product: benchmarks (Benchmarks/, docs/benchmarks.md), the DNS fuzzer and the
        // test tools (Tools/). None of fleetd, fleetctl or fleet-dns depends on them.
        .executableTarget(name: "fleet-bench", dependencies: [
            "FleetEngine", "FleetAgent", "FleetRegistry", "FleetStore", "FleetStoreEmbedded", "FleetStoreEtcd",
            "FleetSystemd", "FleetUnit", .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/fleet-bench"),
        .executableTarget(name: "store-bench", dependencies: ["FleetStore", "FleetStoreEmbedded"], path: "Benchmarks/store-bench"),
        .executableTarget(name: "etcd-bench", dependencies: ["FleetStoreEtcd"], path: "Benchmarks/etcd-bench"),
        // Store write -> DNS answer latency, in process.
        .executableTarget(name: "DNSPropagationBench", dependencies: [
            "FleetDNS", "FleetDiscovery", "FleetStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/DNSPropagationBench"),
        // Heap allocations per UDP query through a real socket, per UDP engine (a scripts/test stage).
        .executableTarget(name: "dns-allocations", dependencies: [
            "FleetDNS", "FleetDiscovery",
            .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/dns-allocations"),
        // Fuzzing the DNS parser and responder (scripts/fuzz-dns).
        .executableTarget(name: "DNSFuzz", dependencies: ["FleetDNS", "FleetDiscovery", "FleetTestSupport", .product(name: "NIOCore", package: "swift-nio")], path: "Tools/DNSFuzz"),
        // The kill -9 durability test's writer (scripts/store-durability-test).
        .executableTarget(name: "store-crash-writer", dependencies: ["FleetStore", "FleetStoreEmbedded"], path: "Tools/store-crash-writer"),
        // The mDNS bridge fed from a directory of records, for Tests/cluster/mdns.test.sh.
        .executableTarget(name: "fleet-mdns-bridge", dependencies: [
            "FleetMDNS", "FleetDiscovery", "FleetStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], path: "Tools/fleet-mdns-bridge"),
        // The store conformance suite and its harness, written once and run by every backend's tests.
        .target(name: "FleetStoreTesting", dependencies: ["FleetStore"], path: "Sources/StoreTesting"),

        .testTarget(name: "FleetIdentityTests", dependencies: [
            "FleetIdentity",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
        ], path: "Tests/IdentityTests"),
        .testTarget(name: "FleetUnitTests", dependencies: ["FleetUnit", "FleetTestSupport"], path: "Tests/UnitTests"),
        .testTarget(name: "FleetDiscoveryTests", dependencies: [
            "FleetDiscovery", "FleetStore", "FleetTestSupport", .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/DiscoveryTests"),
        .testTarget(name: "FleetDNSTests", dependencies: [
            "FleetDNS", "FleetDiscovery", "FleetStore", "FleetTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/DNSTests"),
        .testTarget(name: "FleetMDNSTests", dependencies: ["FleetMDNS", "FleetDiscovery"], path: "Tests/MDNSTests"),
        .testTarget(name: "FleetStoreEtcdTests", dependencies: ["FleetStoreEtcd", "FleetStore", "FleetStoreTesting"], path: "Tests/StoreEtcdTests"),
        .testTarget(name: "FleetStoreTests", dependencies: [
            "FleetStore", "FleetStoreEmbedded", "FleetRemoteStore", "FleetStoreHTTP", "FleetTestSupport", "FleetStoreTesting", "CSQLite",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/StoreTests"),
        .testTarget(name: "FleetHTTPServerTests", dependencies: [
            "FleetHTTPServer", "FleetStoreHTTP", "FleetRemoteStore", "FleetStore", "FleetTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/HTTPServerTests"),
        .testTarget(name: "FleetEngineTests", dependencies: [
            "FleetEngine", "FleetTestSupport", .product(name: "MetricsTestKit", package: "swift-metrics"),
        ], path: "Tests/EngineTests"),
        .testTarget(name: "FleetSystemdTests", dependencies: ["FleetSystemd", "FleetJournal"], path: "Tests/SystemdTests"),
        .testTarget(name: "FleetAgentTests", dependencies: [
            "FleetAgent", "FleetTestSupport", .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
        ], path: "Tests/AgentTests"),
        .testTarget(name: "FleetAPITests", dependencies: [
            "FleetAPI", "FleetAPIClient", "FleetHTTPServer", "FleetTestSupport", "FleetIdentity",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/APITests"),
        .testTarget(name: "fleetctlTests", dependencies: ["fleetctl"], path: "Tests/fleetctlTests"),
        .testTarget(name: "fleetdTests", dependencies: ["fleetd", "FleetTestSupport"], path: "Tests/fleetdTests"),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("ExistentialAny")]
}
