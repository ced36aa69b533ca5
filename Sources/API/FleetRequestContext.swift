import Hummingbird
import NIOCore

/// A context that knows its request's connection, so a response that streams until the client
/// leaves (`journal?follow=true`) can notice that it left.
public protocol ConnectionAwareContext {
    var channel: (any Channel)? { get }
}

/// The request context of fleetd's API listeners: Hummingbird's basic context plus the channel.
public struct FleetRequestContext: RequestContext, ConnectionAwareContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Relays `source` until it ends or the client's connection closes, whichever comes first; then
/// stops iterating `source` (which stops its producer: a journal reader, an upstream request).
///
/// A connection whose client only half-closed it is not noticed until something is written,
/// so with a `heartbeat` interval `marker` is sent that often: the first write after the client
/// left fails and ends the response.
func untilDisconnected<Element: Sendable>(
    _ source: some AsyncSequence<Element, any Error> & Sendable, channel: (any Channel)?,
    heartbeat: Duration? = nil, marker: Element? = nil
) -> AsyncThrowingStream<Element, any Error> {
    let (relay, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
    let beat: Task<Void, Never>? = if let heartbeat, let marker { Task {
        while !Task.isCancelled {
            try? await Task.sleep(for: heartbeat)
            if Task.isCancelled { return }
            continuation.yield(marker)
        }
    } } else { nil }
    let pump = Task {
        do {
            for try await element in source { continuation.yield(element) }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
    continuation.onTermination = { _ in
        pump.cancel()
        beat?.cancel()
    }
    channel?.closeFuture.whenComplete { _ in continuation.finish() }
    return relay
}
