import Logging
import NIOCore
import NIOConcurrencyHelpers

/// Keeps a listener alive when `accept` fails for lack of descriptors or memory.
///
/// NIO keeps the server channel open on `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`, but fires the
/// error down the server pipeline, where Hummingbird's accept loop ends on it (and with it the
/// service, and fleetd). And the listening socket stays readable, so without a pause accept
/// would fail again at once, in a loop. ``install(on:logger:)`` puts NIO's
/// `AcceptBackoffHandler` first in the server channel's pipeline: such errors are logged and
/// swallowed, and accepting resumes after a pause that doubles from 10 ms up to 1 s while the
/// errors last.
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
