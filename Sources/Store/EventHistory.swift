/// The most recent events of the whole store, so a watch can start from an index in the past.
struct EventHistory: Sendable {
    let limit: Int
    private var events: [StoreEvent] = []
    /// The highest index that fell out of the window; a watch from at or below it is refused.
    private(set) var clearedThrough: UInt64 = 0

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var oldestIndex: UInt64 { events.first?.index ?? clearedThrough + 1 }

    mutating func append(_ event: StoreEvent) {
        events.append(event)
        // Trim in chunks so appends stay amortised O(1).
        if events.count > limit * 2 {
            let drop = events.count - limit
            clearedThrough = events[drop - 1].index
            events.removeFirst(drop)
        }
    }

    /// Events with an index of at least `index`, or nil when the window no longer reaches back.
    func events(from index: UInt64) -> ArraySlice<StoreEvent>? {
        let windowStart = events.count > limit ? events[events.count - limit - 1].index : clearedThrough
        guard index > windowStart else { return nil }
        let first = events.firstIndex { $0.index >= index } ?? events.endIndex
        return events[first...]
    }
}
