import FleetStore
import Foundation
import NIOCore
import NIOSSL

extension EtcdStore {
    /// How to reach the etcd cluster and where fleet's keys live in it.
    public struct Configuration: Sendable {
        /// Client URLs of the members, e.g. `http://127.0.0.1:2379`. Every request starts at the
        /// member that answered last and moves on to the next one when that member fails.
        public var endpoints: [String]
        /// Every fleet key lives below this etcd key prefix (`/fleet` makes `/a/b` the etcd key
        /// `/fleet/a/b`); "" uses the keyspace as is. A trailing slash is ignored.
        public var keyPrefix: String
        /// Client TLS for `https://` endpoints; nil for plain HTTP.
        public var tls: TLS?
        /// How long one operation may take in all, failing over between members included.
        public var requestTimeout: Duration
        /// How long one attempt at one member may take before the next member is tried. etcd
        /// holds a write up to 5 s (plus two election timeouts) when its leader dies under it;
        /// this bounds what such a write costs instead.
        public var attemptTimeout: Duration
        /// How long to wait for a TCP connection to a member.
        public var connectTimeout: Duration
        /// How long a watch may hear nothing from its member before it checks that the member
        /// still serves (one small read); a member that does not answer is left for the next one.
        public var watchIdleCheck: Duration
        /// Keep-alive connections per member for requests (each request in flight needs one; HTTP/1.1).
        /// Watches use connections of their own.
        public var connectionsPerEndpoint: Int
        /// Watches open at once through this store, and how far behind each may fall.
        public var watchLimits: WatchLimits
        /// How requests and watches reach the members.
        public var transport: Transport

        public init(endpoints: [String], keyPrefix: String = "", tls: TLS? = nil,
                    requestTimeout: Duration = .seconds(10), attemptTimeout: Duration = .seconds(2),
                    connectTimeout: Duration = .seconds(1), watchIdleCheck: Duration = .seconds(5),
                    connectionsPerEndpoint: Int = 16, watchLimits: WatchLimits = WatchLimits(),
                    transport: Transport = .grpc) {
            self.endpoints = endpoints
            self.keyPrefix = keyPrefix
            self.tls = tls
            self.requestTimeout = requestTimeout
            self.attemptTimeout = attemptTimeout
            self.connectTimeout = connectTimeout
            self.watchIdleCheck = watchIdleCheck
            self.connectionsPerEndpoint = connectionsPerEndpoint
            self.watchLimits = watchLimits
            self.transport = transport
        }

        /// Parses a comma-separated endpoint list, as etcdctl's `--endpoints` takes it.
        public static func endpoints(fromList list: String) -> [String] {
            list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        }
    }

    /// How the store's requests (reads, txns, lease grants and revokes) travel.
    public enum Transport: String, Sendable, Hashable, CaseIterable {
        /// etcd's gRPC API over HTTP/2 (TLS with ALPN `h2` for `https://` members), one
        /// connection per member; the default. Endpoints must be all `http://` or all
        /// `https://`; a mixed list uses the gateway. A quarter faster on starts than the gateway
        /// and half the member's CPU (docs/benchmarks.md).
        case grpc
        /// etcd's JSON gateway (`/v3/...`) over HTTP/1.1 keep-alive connections: for members
        /// whose gRPC port is not reachable (only a JSON proxy in front of them).
        case gateway
    }

    /// Client TLS: PEM files, as etcd's own `--cacert`, `--cert` and `--key` take them.
    public struct TLS: Sendable, Hashable {
        /// CA bundle the members' certificates must chain to; nil uses the system's roots.
        public var caFile: String?
        /// Client certificate (chain) for etcd's `--client-cert-auth`; nil for none.
        public var certificateFile: String?
        /// The client certificate's private key.
        public var keyFile: String?

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }

        func makeTLSConfiguration() throws -> TLSConfiguration {
            var config = TLSConfiguration.makeClientConfiguration()
            if let caFile { config.trustRoots = .file(caFile) }
            if let certificateFile {
                config.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            }
            if let keyFile { config.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)) }
            return config
        }
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
