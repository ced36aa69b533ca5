import FleetStore
import Synchronization

/// How this machine's unit states live in the store, decided at each registration
/// (``Agent/chooseRecordLifetime()``) and read by every state write.
///
/// Attached to the machine's presence where the store can attach (staying alive then costs one
/// refresh per machine, and a lost machine's states go with its presence at once); with the
/// agent TTL and refreshed every 0.4 × TTL where it cannot (an older fleetd holds the store).
final class RecordLifetime: Sendable {
    private let value: Mutex<KeyLifetime>

    init(ttl: Int64) {
        value = Mutex(.ttl(ttl))
    }

    var current: KeyLifetime {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
