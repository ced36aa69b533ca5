import Logging
import ServiceLifecycle

/// Runs `service` (a test's server) for as long as `body` runs, then stops it with a graceful
/// shutdown, whether `body` returned or threw.
///
/// Not by cancelling its task: cancelling a Hummingbird server while a connection it accepted is
/// still waiting to be handed over traps in NIO ("Deinited NIOAsyncWriter without calling
/// finish()", swift-nio issue 3481), and the trap ends every test of the process, not just this
/// one. A shutdown that takes longer than `patience` (a connection that will not finish) falls
/// back to cancellation.
public func whileRunning<Value: Sendable>(_ service: some Service, logger: Logger, patience: Duration = .seconds(10),
                                           _ body: () async throws -> Value) async throws -> Value {
    var configuration = ServiceGroupConfiguration(services: [.init(service: service)], logger: logger)
    configuration.maximumGracefulShutdownDuration = patience
    let group = ServiceGroup(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let outcome: Result<Value, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try? await tasks.waitForAll()
        return try outcome.get()
    }
}
