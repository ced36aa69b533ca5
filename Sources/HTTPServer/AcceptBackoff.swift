import Logging
import NIOCore
import NIOConcurrencyHelpers

/// Keeps a listener accepting sensibly when `accept` fails for lack of descriptors or memory.
///
/// NIO keeps the server channel open on `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`, and its async
/// bind (which Hummingbird uses) already puts an `AcceptBackoffHandler` in the pipeline that
/// swallows such errors and pauses accepting for a fixed second, silently. Nothing then tells the
/// operator that fleetd ran out of descriptors, and every hiccup costs a full second of accepts.
/// ``install(on:logger:)`` puts one more `AcceptBackoffHandler` first in the server channel's
/// pipeline: the errors are logged (the first, then every hundredth) and swallowed, and the pause
/// doubles from 10 ms up to 1 s while they last. Should a NIO without its own handler be used,
/// this one still keeps the error from reaching Hummingbird's accept loop, which would end on it.
public enum AcceptBackoff {
    /// For `Application(onServerRunning:)`.
    public static func install(on serverChannel: any Channel, logger: Logger) async {
        do {
            try await serverChannel.eventLoop.submit {
                let backoff = Backoff(logger: logger)
                let handler = AcceptBackoffHandler(shouldForwardIOErrorCaught: false) { backoff.next(after: $0) }
                try serverChannel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
        } catch {
            logger.warning("could not install the accept back-off", metadata: ["error": "\(error)"])
        }
    }

    /// The pause before the next accept: doubling while errors come within a second of each
    /// other, back to the shortest after a quiet second.
    final class Backoff: Sendable {
        let logger: Logger
        private let state = NIOLockedValueBox<(pause: TimeAmount, last: NIODeadline, count: UInt64)>(
            (.milliseconds(10), .uptimeNanoseconds(0), 0))

        init(logger: Logger) {
            self.logger = logger
        }

        func next(after error: IOError) -> TimeAmount {
            let now = NIODeadline.now()
            let (pause, count) = state.withLockedValue { state in
                state.pause = now - state.last > .seconds(1) ? .milliseconds(10)
                    : min(state.pause * 2, .seconds(1))
                state.last = now
                state.count &+= 1
                return (state.pause, state.count)
            }
            if count == 1 || count % 100 == 0 {
                logger.error("accepting a connection failed; pausing accepts", metadata: [
                    "error": "\(error)", "http.accept_pause_ms": "\(pause.nanoseconds / 1_000_000)",
                    "http.accept_failures": "\(count)",
                ])
            }
            return pause
        }
    }
}
