import Synchronization

/// Whether this fleetd may answer API requests: not until its agent has registered the
/// machine's presence in the store, as fleet answers every request with 503 `fleet server
/// unable to communicate with etcd` until its server is up.
///
/// fleetd hands the same value to every API listener and calls ``markReady()`` from the
/// agent once the presence write has been acknowledged, so a client that gets past the 503
/// can rely on this machine being listed.
public final class APIReadiness: Sendable {
    private let ready: Atomic<Bool>

    public init(ready: Bool = false) {
        self.ready = Atomic(ready)
    }

    /// Called once the machine is registered; later calls change nothing.
    public func markReady() {
        ready.store(true, ordering: .releasing)
    }

    public var isReady: Bool { ready.load(ordering: .acquiring) }
}
