/// "Key ``key`` is still the one created at ``createdIndex`` (and still holds ``value``)": a fence
/// a writer puts on its writes so they land only while it holds a lease.
///
/// Why the *created* index and not the modified one: a lease holder renews its lease key with a
/// refresh, and a refresh moves `modifiedIndex` on the v2 backends (``InMemoryStore``, the
/// embedded store) but not on etcd (a keep-alive, no new revision). A guard on `modifiedIndex`
/// would therefore fail the holder's own writes after every renewal here, and would need a new
/// index after each one. `createdIndex` names the lease's *term* instead: it stays the same
/// across renewals on every backend and changes whenever the key is created again, which is
/// the only way another holder can take it over (the old one expired or was deleted first;
/// the global index never repeats). A guard on a value instead (a term ID written into the
/// lease) would need a second compare and a unique ID per acquisition; the index is both.
///
/// ``value``, when given, also catches a plain `set` over the key, which keeps its created index.
///
/// A guard holds when the key exists, is not a directory, was created at ``createdIndex`` and
/// (if asked) holds ``value``; otherwise the write fails with ``StoreError/Code/guardFailed`` and changes nothing. A due
/// TTL is expired before the check, so a lapsed lease fails the guard.
public struct StoreGuard: Sendable, Hashable {
    public var key: String
    public var createdIndex: UInt64
    public var value: String?

    public init(key: String, createdIndex: UInt64, value: String? = nil) {
        self.key = key
        self.createdIndex = createdIndex
        self.value = value
    }

    /// Whether a key found as (`createdIndex`, `value`) satisfies the guard; nil `found` is no key
    /// (or a directory). A created index of 0 never matches: no value is created at index 0.
    public func holds(createdIndex found: UInt64?, value foundValue: String?) -> Bool {
        guard let found, found == createdIndex, createdIndex != 0 else { return false }
        return value == nil || value == foundValue
    }

    /// Throws ``failure(createdIndex:value:index:)`` unless the guard holds for what was found.
    public func check(createdIndex found: UInt64?, value foundValue: String?, index: UInt64) throws(StoreError) {
        guard holds(createdIndex: found, value: foundValue) else {
            throw failure(createdIndex: found, value: foundValue, index: index)
        }
    }

    /// The error for a guard that does not hold, naming what was found (nil: no such value).
    public func failure(createdIndex found: UInt64?, value foundValue: String?, index: UInt64) -> StoreError {
        let want = "created at \(createdIndex)" + (value.map { " holding '\($0)'" } ?? "")
        let have = found.map { "created at \($0)" + (value == nil ? "" : " holding '\(foundValue ?? "")'") } ?? "absent"
        return StoreError(.guardFailed, "guard \(key): \(have), not \(want)", index: index)
    }
}

extension StoreWrite {
    /// The write's guard, if any (in-order creation has no condition, so it cannot carry one).
    public var storeGuard: StoreGuard? {
        switch self {
        case let .set(_, _, _, condition), let .refresh(_, _, condition), let .delete(_, _, _, condition),
             let .attach(_, _, _, condition):
            return condition.guardedBy
        case .createInOrder:
            return nil
        }
    }
}
