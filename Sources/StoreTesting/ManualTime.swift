import Foundation
import Synchronization

/// A wall clock that only moves when a test says so, handed to a store as its `now`.
public final class ManualTime: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_700_000_000))

    public init() {}

    public var now: Date { current.withLock { $0 } }

    public func advance(seconds: TimeInterval) { current.withLock { $0 += seconds } }
}
