import Hummingbird
import NIOCore

/// A request context that knows its request's connection, so a response that streams until the
/// client leaves (a keys-API watch, `journal?follow=true`) can notice that it left.
public protocol ConnectionAwareContext {
    var channel: (any Channel)? { get }
}

/// Relays `source` until it ends or the client leaves (``NIOCore/Channel/clientGone``),
/// whichever comes first; then stops iterating `source`, which stops its producer: a store
/// watcher, a journal reader, an upstream request.
///
/// A client that vanished without closing (a cut cable) is only noticed when a write fails, so
/// with a `heartbeat` interval `marker` is sent that often.
public func untilDisconnected<Element: Sendable>(
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
    channel?.clientGone.whenComplete { _ in continuation.finish() }
    return relay
}
