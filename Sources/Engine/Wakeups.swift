import Synchronization

/// Wake-ups of the engine loop, coalesced: any number of signals before the loop takes them
/// count as one, and signals the loop has already taken do not make it run again.
final class Wakeups: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let pending = Mutex(false)

    init() {
        (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func signal() {
        pending.withLock { $0 = true }
        continuation.yield()
    }

    /// True if there was a signal since the last call.
    func take() -> Bool {
        pending.withLock { pending in
            defer { pending = false }
            return pending
        }
    }

    func finish() { continuation.finish() }
}
