import CSystemd
import FleetUnit
import Glibc

/// sd-bus type codes are C `char`s.
enum BusType {
    static let string = code("s")
    static let boolean = code("b")
    static let variant = code("v")
    static let array = code("a")
    static let dictEntry = code("e")
    static let structure = code("r")

    private static func code(_ scalar: Unicode.Scalar) -> CChar { CChar(truncatingIfNeeded: scalar.value) }
}

/// One reference to an `sd_bus_message`, dropped on deinit. Lives on the bus thread only.
///
/// Reads return nil/false instead of throwing: callers turn a failed read into
/// ``SystemdError/Code/invalidReply`` or ignore a malformed signal.
final class BusMessage {
    let pointer: OpaquePointer

    /// Takes over a reference the caller owns (e.g. a reply from `sd_bus_call`).
    init(adopting pointer: OpaquePointer) { self.pointer = pointer }

    /// Takes a new reference (e.g. to a message borrowed by a callback).
    init(retaining pointer: OpaquePointer) { self.pointer = sd_bus_message_ref(pointer) ?? pointer }

    deinit { sd_bus_message_unref(pointer) }

    /// Where this message stands among those its sender sent; nil if sd-bus cannot tell. On a
    /// direct connection to the manager messages name no sender: the peer is the only one
    /// (``MessageOrder/directPeer``).
    var order: MessageOrder? {
        var cookie: UInt64 = 0
        guard sd_bus_message_get_cookie(pointer, &cookie) >= 0 else { return nil }
        let sender = sd_bus_message_get_sender(pointer).map { String(cString: $0) } ?? MessageOrder.directPeer
        return MessageOrder(sender: sender, cookie: cookie)
    }

    /// Appends one `s` argument; returns the sd-bus result (negative errno on failure).
    func append(_ string: String) -> Int32 {
        string.withCString { sd_bus_message_append_basic(pointer, BusType.string, $0) }
    }

    /// Appends an `as` argument; returns the sd-bus result.
    func append(strings: [String]) -> Int32 {
        var pointers = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return sd_bus_message_append_strv(pointer, &pointers)
    }

    /// Reads `ListUnitsByNames`' `a(ssssssouso)` into name → (load, active, sub) state.
    func readUnitStatesByName() -> [String: SystemdUnitState]? {
        guard enter(BusType.array, "(ssssssouso)") else { return nil }
        var states: [String: SystemdUnitState] = [:]
        while enter(BusType.structure, "ssssssouso") {
            guard let name = readString(), readString() != nil, let load = readString(), let active = readString(),
                let sub = readString(), skip("souso"), exit()
            else { return nil }
            states[name] = SystemdUnitState(loadState: load, activeState: ActiveState(rawValue: active), subState: sub)
        }
        guard exit() else { return nil }
        return states
    }

    /// Reads an `s` value; nil at the end of a container or on a type mismatch.
    func readString() -> String? {
        var value: UnsafePointer<CChar>?  // borrowed from the message
        guard sd_bus_message_read_basic(pointer, BusType.string, &value) > 0, let value else { return nil }
        return String(cString: value)
    }

    /// Enters a container; false at the end of the enclosing container or on a mismatch.
    func enter(_ type: CChar, _ contents: String) -> Bool {
        sd_bus_message_enter_container(pointer, type, contents) > 0
    }

    func exit() -> Bool { sd_bus_message_exit_container(pointer) >= 0 }

    func skip(_ types: String) -> Bool { sd_bus_message_skip(pointer, types) >= 0 }

    /// The signature inside the variant at the read position (`"s"` for a string variant).
    func peekVariantContents() -> String? {
        var type: CChar = 0
        var contents: UnsafePointer<CChar>?
        guard sd_bus_message_peek_type(pointer, &type, &contents) > 0, type == BusType.variant,
            let contents
        else { return nil }
        return String(cString: contents)
    }
}

@available(*, unavailable)
extension BusMessage: Sendable {}

/// A message's place in what one bus connection sent: its unique name and its cookie (serial),
/// which increases with every message that connection sends.
///
/// systemd sends signals and method replies over the same connection, so comparing cookies
/// tells whether a signal was sent before or after a `Get` reply. A different sender (systemd
/// re-executed and reconnected, so its cookies restarted) is never "older".
struct MessageOrder: Equatable {
    /// The sender of every message on a direct connection (no bus names there).
    static let directPeer = ""

    var sender: String
    var cookie: UInt64

    /// True if this message was sent no later than `other` by the same connection.
    func isNotAfter(_ other: MessageOrder?) -> Bool {
        guard let other, other.sender == sender else { return false }
        return cookie <= other.cookie
    }

    /// The later of two known positions; a new sender replaces the old one.
    static func latest(_ known: MessageOrder?, _ new: MessageOrder?) -> MessageOrder? {
        guard let new else { return known }
        guard let known, known.sender == new.sender else { return new }
        return known.cookie >= new.cookie ? known : new
    }
}

/// The subset of a unit's state properties that one message carried.
struct UnitStateProperties: Equatable {
    static let names = ["LoadState", "ActiveState", "SubState"]

    var loadState: String?
    var activeState: String?
    var subState: String?

    /// The full triple, if the message carried all three.
    var complete: SystemdUnitState? {
        guard let loadState, let activeState, let subState else { return nil }
        return SystemdUnitState(loadState: loadState, activeState: ActiveState(rawValue: activeState), subState: subState)
    }

    /// The names of the properties this value lacks.
    var missing: [String] { Self.names.filter { self[$0] == nil } }

    /// These values, with the ones this lacks taken from `other`.
    func filling(from other: UnitStateProperties) -> UnitStateProperties {
        UnitStateProperties(
            loadState: loadState ?? other.loadState,
            activeState: activeState ?? other.activeState,
            subState: subState ?? other.subState)
    }

    subscript(name: String) -> String? {
        get {
            switch name {
            case "LoadState": loadState
            case "ActiveState": activeState
            case "SubState": subState
            default: nil
            }
        }
        set {
            switch name {
            case "LoadState": loadState = newValue
            case "ActiveState": activeState = newValue
            case "SubState": subState = newValue
            default: break
            }
        }
    }
}

extension BusMessage {
    /// Reads `PropertiesChanged(s interface, a{sv} changed, as invalidated)` for the
    /// `org.freedesktop.systemd1.Unit` interface; nil for other interfaces or malformed messages.
    ///
    /// Properties listed as invalidated carry no value; they stay nil and the caller fetches them.
    func readUnitPropertiesChanged() -> UnitStateProperties? {
        guard readString() == SystemdObjects.unitInterface, enter(BusType.array, "{sv}") else { return nil }
        var properties = UnitStateProperties()
        while enter(BusType.dictEntry, "sv") {
            guard let key = readString() else { return nil }
            if UnitStateProperties.names.contains(key), peekVariantContents() == "s" {
                guard enter(BusType.variant, "s"), let value = readString(), exit() else { return nil }
                properties[key] = value
            } else if !skip("v") {
                return nil
            }
            guard exit() else { return nil }
        }
        guard exit() else { return nil }
        return properties
    }
}
