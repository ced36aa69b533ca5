import AsyncHTTPClient
import FleetIdentity
import FleetRemoteStore
import FleetStoreHTTP
import Synchronization

/// The HTTP client fleetd calls other fleetds with (a remote store, status and journal
/// forwarding). With TLS it presents this machine's certificate and trusts only the cluster
/// CA. Configured as a remote store's client should be (``RemoteStore/clientConfiguration(tls:)``:
/// no hidden reconnect back-off, room for the watches). Made once and kept for the life of the
/// process, so it is never shut down while a request may still use it.
enum PeerHTTPClient {
    /// Made under the lock, so two first callers at once cannot make two (one never shut down).
    private static let made = Mutex<HTTPClient?>(nil)

    private static let madeStoreClients = Mutex<RemoteStore.Clients?>(nil)

    /// The pools fleetd reaches a remote store through (``RemoteStore/Clients``): requests,
    /// TTL refreshes and watches apart. Made once, like ``client(_:)``.
    static func storeClients(_ tls: NodeTLS?) -> RemoteStore.Clients {
        madeStoreClients.withLock { made in
            if let made { return made }
            let clients = RemoteStore.Clients.separate(tls: tls?.clientConfiguration)
            made = clients
            return clients
        }
    }

    static func client(_ tls: NodeTLS?) -> HTTPClient {
        guard let tls else { return RemoteStore.defaultClient }
        return made.withLock { made in
            if let made { return made }
            let configuration = RemoteStore.clientConfiguration(tls: tls.clientConfiguration)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            made = client
            return client
        }
    }
}
