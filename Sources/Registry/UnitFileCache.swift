import FleetUnit
import Synchronization

/// Unit contents by hash, read from the registry once and then kept.
///
/// Contents are content-addressed (`unit/<sha1>`), so what a hash names never changes and a
/// cached file cannot go stale. Listing units needs every unit's contents (their options and
/// whether they are global): read one by one, that was a store round trip per unit on every
/// listing, which on a networked store (etcd) made a `fleetctl start` of 200 units poll 200
/// serial reads each round. Here the hashes not yet known are read together, each once.
public final class UnitFileCache: Sendable {
    /// The most contents kept; past it the cache starts over (it refills with what is in use).
    public let capacity: Int
    /// How many missing contents are read at once.
    static let concurrentReads = 16
    private let files = Mutex<[UnitHash: UnitFile]>([:])

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The contents of each hash in `hashes` that the registry has; the ones not cached are
    /// read concurrently (each distinct hash once). A hash with no contents is left out.
    public func files(_ hashes: some Sequence<UnitHash>, from registry: Registry) async throws -> [UnitHash: UnitFile] {
        var found: [UnitHash: UnitFile] = [:]
        var missing: [UnitHash] = []
        files.withLock { cached in
            for hash in Set(hashes) {
                if let file = cached[hash] { found[hash] = file } else { missing.append(hash) }
            }
        }
        guard !missing.isEmpty else { return found }
        let read = try await withThrowingTaskGroup(of: (UnitHash, UnitFile?).self) { group in
            var next = missing.makeIterator()
            for _ in 0..<Self.concurrentReads {
                guard let hash = next.next() else { break }
                group.addTask { (hash, try await registry.unitFile(hash)) }
            }
            var read: [UnitHash: UnitFile] = [:]
            while let (hash, file) = try await group.next() {
                if let file { read[hash] = file }
                if let hash = next.next() { group.addTask { (hash, try await registry.unitFile(hash)) } }
            }
            return read
        }
        files.withLock { cached in
            if cached.count + read.count > capacity { cached.removeAll() }
            for (hash, file) in read where cached.count < capacity { cached[hash] = file }
        }
        return found.merging(read) { cached, _ in cached }
    }

    /// The contents of `hash`, from the cache or the registry; nil when the registry has none.
    public func file(_ hash: UnitHash, from registry: Registry) async throws -> UnitFile? {
        try await files([hash], from: registry)[hash]
    }

    /// How many contents are cached (tests).
    public var count: Int { files.withLock { $0.count } }
}
