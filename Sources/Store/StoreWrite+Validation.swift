extension StoreWrite {
    /// Checks what a write carries before any backend acts on it: its key (through
    /// ``StoreKey/normalize(_:)``, including the key an in-order create will make) and its TTL.
    ///
    /// Every backend calls this first, so InMemory, Embedded, etcd and remote stores refuse the
    /// same writes with the same errors.
    ///
    /// - Throws: ``StoreError/Code/ttlNaN`` for a TTL below 0 or above ``StoreLimits/maximumTTL``
    ///   (etcd v2 answered every unusable `ttl` so); the key errors of ``StoreKey/normalize(_:)``.
    public func validate() throws(StoreError) {
        switch self {
        case let .set(key, _, ttl, _):
            _ = try StoreKey.normalize(key)
            try Self.check(ttl: ttl)
        case let .refresh(key, ttl, _):
            _ = try StoreKey.normalize(key)
            try Self.check(ttl: ttl)
        case let .createInOrder(key, _, ttl):
            // The new key is one level (a 20-digit name) below `key`; it must fit the bounds too.
            _ = try StoreKey.normalize(key + "/" + String(repeating: "0", count: 20))
            try Self.check(ttl: ttl)
        case let .delete(key, _, _, _):
            _ = try StoreKey.normalize(key)
        case let .attach(key, _, owner, _):
            let normalized = try StoreKey.normalize(key), ownerKey = try StoreKey.normalize(owner)
            guard normalized != ownerKey else {
                throw StoreError(.invalidField, "\(normalized) cannot be attached to itself")
            }
        }
    }

    static func check(ttl: Int64?) throws(StoreError) {
        guard let ttl else { return }
        guard (0...StoreLimits.maximumTTL).contains(ttl) else {
            throw StoreError(.ttlNaN, "ttl \(ttl) is outside 0...\(StoreLimits.maximumTTL) seconds")
        }
    }
}
