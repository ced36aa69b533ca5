import AsyncHTTPClient
import FleetIdentity
import FleetRemoteStore
import FleetStoreHTTP

/// The HTTP client fleetd calls other fleetds with (a remote store, status and journal
/// forwarding). With TLS it presents this machine's certificate and trusts only the cluster
/// CA. Configured as a remote store's client should be (``RemoteStore/clientConfiguration(tls:)``:
/// no hidden reconnect back-off, room for the watches). Made once and kept for the life of the
/// process, so it is never shut down while a request may still use it.
enum PeerHTTPClient {
    nonisolated(unsafe) private static var made: HTTPClient?

    static func client(_ tls: NodeTLS?) -> HTTPClient {
        guard let tls else { return RemoteStore.defaultClient }
        if let made { return made }
        let configuration = RemoteStore.clientConfiguration(tls: tls.clientConfiguration)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        made = client
        return client
    }
}
