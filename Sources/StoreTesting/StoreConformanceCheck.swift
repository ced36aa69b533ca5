import FleetStore
import Testing

/// One named check of the conformance suite: a test body that gets a fresh, empty store and its
/// fixture. A value (rather than a `@Test` in this library) so that each backend's test target
/// runs the whole suite under its own name and only where its backend is available.
public struct StoreConformanceCheck: Sendable, CustomTestStringConvertible {
    public typealias Body = @Sendable (any KeyValueStore, StoreFixture) async throws -> Void

    public let name: String
    private let body: Body

    public init(_ name: String, _ body: @escaping Body) {
        self.name = name
        self.body = body
    }

    public var testDescription: String { name }

    /// Runs the check on `store`; expectations are recorded against the calling test.
    public func run(on store: any KeyValueStore, _ fixture: StoreFixture) async throws {
        try await body(store, fixture)
    }
}
