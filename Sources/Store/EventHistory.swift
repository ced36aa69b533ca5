/// The most recent events of the whole store, so a watch can start from an index in the past.
/// One window for every local backend: ``InMemoryStore`` starts it empty, ``EmbeddedStore``
/// rebuilds it from disk, including how far back it had already been cleared.
///
/// A watch from index `i` is answered from here when `i` lies after ``windowStart``; it gets
/// ``StoreError/Code/indexCleared`` otherwise. After a restart of the embedded store the window
/// is the one persisted, so a watch from before the restart either replays exactly what it
/// missed or is refused; it is never silently short of events.
package struct EventHistory: Sendable {
    package let limit: Int
    private var events: [StoreEvent]
    /// The highest index that fell out of the window; a watch from at or below it is refused.
    private(set) var clearedThrough: UInt64

    package init(limit: Int, clearedThrough: UInt64 = 0, events: [StoreEvent] = []) {
        self.limit = max(1, limit)
        self.clearedThrough = clearedThrough
        self.events = []
        for event in events { append(event) }
    }

    /// Events at or below this index are out of reach: the last `limit` events stay replayable.
    package var windowStart: UInt64 {
        events.count > limit ? events[events.count - limit - 1].index : clearedThrough
    }

    /// The oldest index a watch can still start from (named in the `indexCleared` cause).
    package var oldestIndex: UInt64 { windowStart + 1 }

    package mutating func append(_ event: StoreEvent) {
        events.append(event)
        // Trim in chunks so appends stay amortised O(1); the window itself is always `limit`.
        if events.count > limit * 2 {
            let drop = events.count - limit
            clearedThrough = events[drop - 1].index
            events.removeFirst(drop)
        }
    }

    /// Events with an index of at least `index`, or nil when the window no longer reaches back.
    package func events(from index: UInt64) -> ArraySlice<StoreEvent>? {
        guard index > windowStart else { return nil }
        let first = events.firstIndex { $0.index >= index } ?? events.endIndex
        return events[first...]
    }
}
