import Synchronization

/// Counts the open connections of one listener and admits a new one only below the cap.
///
/// Shared by every event loop that accepts for the listener, hence the lock.
public final class ConnectionGate: Sendable {
    public let limit: Int
    private let state = Mutex<(open: Int, refused: UInt64)>((0, 0))

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Whether a new connection may stay; if so it counts until ``leave()``.
    /// The second value is how many connections were refused so far (for rate-limited logs).
    func enter() -> (admitted: Bool, refused: UInt64) {
        state.withLock { state -> (admitted: Bool, refused: UInt64) in
            guard state.open < limit else {
                state.refused &+= 1
                return (false, state.refused)
            }
            state.open += 1
            return (true, state.refused)
        }
    }

    func leave() {
        state.withLock { $0.open = max(0, $0.open - 1) }
    }

    /// Connections open now.
    public var open: Int { state.withLock { $0.open } }
}
