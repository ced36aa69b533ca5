/// How many independent requests a fleetctl command keeps in flight at once: fleetd commits
/// concurrent writes together, so many small requests at once cost little more than one, while
/// the bound keeps a command of thousands of units from opening thousands of connections.
/// `destroy` and the unit lookups of `stop`/`unload` use it, and `start` its unit writes to a
/// fleetd without batches (fleet itself).
let concurrentRequestLimit = 48

/// Runs `body` for every element with at most `limit` running at once and returns every outcome
/// at its element's index, errors included: callers report in argument order, as they did when
/// the requests went one at a time, whatever order the answers come back in.
func concurrentResults<T: Sendable, R: Sendable>(
    _ items: [T], limit: Int = concurrentRequestLimit, _ body: @escaping @Sendable (T) async throws -> R
) async -> [Result<R, any Error>] {
    await withTaskGroup(of: (Int, Result<R, any Error>).self) { group in
        var results = [Result<R, any Error>?](repeating: nil, count: items.count)
        var next = items.indices.makeIterator()
        func add(_ index: Int) {
            let item = items[index]
            group.addTask {
                do { return (index, .success(try await body(item))) } catch { return (index, .failure(error)) }
            }
        }
        for _ in 0..<max(1, limit) {
            guard let index = next.next() else { break }
            add(index)
        }
        while let (index, result) = await group.next() {
            results[index] = result
            if let index = next.next() { add(index) }
        }
        // Every index was added once and every task answered once.
        return results.map { $0 ?? .failure(CancellationError()) }
    }
}
