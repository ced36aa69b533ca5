import FleetStore
import Synchronization

/// How this machine's unit states live in the store, decided at each registration
/// (``Agent/chooseRecordLifetime()``) and read by every state write.
///
/// Attached to the machine's presence where the store can attach (staying alive then costs one
/// refresh per machine, and a lost machine's states go with its presence at once); with the
/// agent TTL and refreshed every 0.4 × TTL where it cannot (an older fleetd holds the store).
final class RecordLifetime: Sendable {
    private let value: Mutex<(lifetime: KeyLifetime, registration: UInt64)>

    init(ttl: Int64) {
        value = Mutex((.ttl(ttl), 0))
    }

    /// Setting it counts a registration (see ``registration``), even when the lifetime is the same.
    var current: KeyLifetime {
        get { value.withLock { $0.lifetime } }
        set { value.withLock { $0 = (newValue, $0.registration &+ 1) } }
    }

    /// The lifetime and which registration chose it: a state written under an earlier
    /// registration may have gone with that registration's presence.
    var currentWithRegistration: (lifetime: KeyLifetime, registration: UInt64) { value.withLock { $0 } }
}
