import Synchronization

/// Hands each new ``ZoneView`` to whoever answers queries.
///
/// The lock is held only to swap the current view and copy the subscriber list; delivery
/// happens after it is released (decide under the lock, act after it). Subscribers are the
/// server's event loops, each of which swaps its own reference on its own thread, so the
/// per-query path never takes this lock.
public final class ZonePublisher: Sendable {
    private struct State {
        var current: ZoneView
        var subscribers: [UInt64: @Sendable (ZoneView) -> Void] = [:]
        var nextToken: UInt64 = 0
    }

    private let state: Mutex<State>

    /// - Parameter initial: the view served until the first publish; by default an empty zone
    ///   that is not ready, so queries get SERVFAIL rather than an NXDOMAIN resolvers would cache.
    public init(initial: ZoneView) {
        state = Mutex(State(current: initial))
    }

    public convenience init(apex: DNSName) {
        self.init(initial: ZoneView.notReady(apex: apex))
    }

    public var current: ZoneView { state.withLock { $0.current } }

    public func publish(_ view: ZoneView) {
        let subscribers = state.withLock { state in
            state.current = view
            return Array(state.subscribers.values)
        }
        for deliver in subscribers { deliver(view) }
    }

    /// Calls `deliver` with every view published from now on. Views may arrive out of order
    /// when published from several threads at once; compare ``ZoneView/generation``.
    ///
    /// - Returns: the view current at subscription, and a token for ``unsubscribe(_:)``.
    public func subscribe(_ deliver: @escaping @Sendable (ZoneView) -> Void) -> (current: ZoneView, token: UInt64) {
        state.withLock { state in
            state.nextToken += 1
            state.subscribers[state.nextToken] = deliver
            return (state.current, state.nextToken)
        }
    }

    public func unsubscribe(_ token: UInt64) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: token) }
    }
}

extension ZoneView {
    /// An empty zone that answers SERVFAIL: what a server serves before its first load.
    public static func notReady(apex: DNSName) -> ZoneView {
        var builder = ZoneBuilder(settings: ZoneSettings(apex: apex))
        let view = builder.view()
        return ZoneView(apex: view.apex, generation: 0, table: view.table, negativeSOATail: view.negativeSOATail,
                        isReady: false)
    }
}
