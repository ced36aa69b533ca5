import FleetStore
import Synchronization

/// Values decoded from store text, remembered by key with the text they came from, so a
/// listing decodes only what changed since the last one. `fleetctl start` polls every unit's
/// state every 50 ms while it waits, and each poll decoded 200 JSON states that had mostly not
/// changed (issue 16). Pure memoisation: a key whose text differs is decoded again, so what a
/// listing returns is what decoding the store's values returns.
///
/// Holds only the keys of the latest listing: its size follows the registry's.
final class DecodeMemo<Value: Sendable>: Sendable {
    private let remembered = Mutex<[String: (text: String, value: Value)]>([:])

    /// The decoded value of each of `items` (key, text), in order; nil where `decode` refuses.
    func decodeAll(_ items: [(key: String, text: String)], _ decode: (String) -> Value?) -> [Value?] {
        let known = remembered.withLock { $0 }
        var fresh: [String: (text: String, value: Value)] = [:]
        fresh.reserveCapacity(items.count)
        var values: [Value?] = []
        values.reserveCapacity(items.count)
        for (key, text) in items {
            if let hit = known[key], hit.text == text {
                values.append(hit.value)
                fresh[key] = hit
            } else {
                let value = decode(text)
                values.append(value)
                if let value { fresh[key] = (text, value) }
            }
        }
        remembered.withLock { $0 = fresh }
        return values
    }
}
