import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// One HTTP listener: Hummingbird's server (`server`, e.g. ``HTTPServerBuilder/limited(_:gate:logger:)``)
/// answering with a router's responder, as Hummingbird's `Application` does, minus its
/// once-a-second date timer: the `Date` header comes from ``HTTPDate``, formatted when a
/// response needs it. A fleetd runs up to three listeners, and at idle those timers were a tenth
/// of its thread wake-ups.
public struct HTTPListener<Responder: HTTPResponder>: Service
where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
    let responder: Responder
    let server: HTTPServerBuilder
    let configuration: ServerConfiguration
    let onServerRunning: @Sendable (any Channel) async -> Void
    let logger: Logger

    public init<Builder: HTTPResponderBuilder>(router: Builder, server: HTTPServerBuilder,
                                               configuration: ServerConfiguration,
                                               onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
                                               logger: Logger) where Builder.Responder == Responder {
        self.responder = router.buildResponder()
        self.server = server
        self.configuration = configuration
        self.onServerRunning = onServerRunning
        self.logger = logger
    }

    public func run() async throws {
        let (responder, logger, serverName) = (responder, logger, configuration.serverName)
        let service = try server.buildServer(configuration: configuration,
                                             eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                             logger: logger) { (request, writer: consuming ResponseWriter, channel) in
            let context = Responder.Context(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error  // the server answers 400 and closes
            } catch {
                logger.debug("unhandled error in a responder", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            response.headers[.date] = HTTPDate.now()
            if let serverName { response.headers[.server] = serverName }
            do {
                try await writer.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // The request body was malformed while the response streamed: the response has
                // begun, so the server must not write its 400; close instead.
                throw ResponseAbandoned()
            }
        } onServerRunning: { channel in
            await onServerRunning(channel)
        }
        try await service.run()
    }
}

/// A response that could not be finished; the connection is closed.
struct ResponseAbandoned: Error {}
