import FleetStore
import Foundation

/// What a conformance check may do to a store besides using it, and the one way backends may
/// differ in what they report.
public struct StoreFixture: Sendable {
    private let advanceBy: @Sendable (TimeInterval) async throws -> Void
    private let forget: @Sendable () async throws -> Void

    /// etcd's flat keyspace reports a recursive delete of a directory as one event per key below
    /// it; an etcd-v2 tree reports the directory itself.
    public let reportsEachKeyOfADeletedDirectory: Bool

    /// etcd deletes an attached key when the lease it shares with its owner runs out, not when
    /// the owner is deleted: until the owner's TTL has passed, the key is still there.
    public let keepsAttachedKeysOfADeletedOwnerUntilItsTTL: Bool

    /// - Parameters:
    ///   - advance: lets time pass for TTLs (a manual clock plus expiring due keys, or real time).
    ///   - forgetHistory: makes every index up to now too old to watch from (etcd compacts); the
    ///     other backends' 50-event history is already exceeded by the check's own writes.
    public init(reportsEachKeyOfADeletedDirectory: Bool = false,
                keepsAttachedKeysOfADeletedOwnerUntilItsTTL: Bool = false,
                advance: @escaping @Sendable (TimeInterval) async throws -> Void,
                forgetHistory: @escaping @Sendable () async throws -> Void = {}) {
        self.reportsEachKeyOfADeletedDirectory = reportsEachKeyOfADeletedDirectory
        self.keepsAttachedKeysOfADeletedOwnerUntilItsTTL = keepsAttachedKeysOfADeletedOwnerUntilItsTTL
        self.advanceBy = advance
        self.forget = forgetHistory
    }

    /// Lets `seconds` pass for TTLs: keys due by then have expired when this returns.
    public func advance(seconds: TimeInterval) async throws { try await advanceBy(seconds) }

    /// Makes every index up to now too old to watch from.
    public func forgetHistory() async throws { try await forget() }
}
