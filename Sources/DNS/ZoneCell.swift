import Synchronization

/// The zone view the batched listener's threads answer from: read once per batch of queries
/// (a lock held for a copy), swapped when ``ZonePublisher`` publishes.
final class ZoneCell: Sendable {
    private let view: Mutex<ZoneView>

    init(_ view: ZoneView) {
        self.view = Mutex(view)
    }

    var current: ZoneView { view.withLock { $0 } }

    func offer(_ newer: ZoneView) {
        view.withLock { view in
            // Views published concurrently could arrive out of order; never go back.
            if newer.generation >= view.generation || !view.isReady { view = newer }
        }
    }
}
