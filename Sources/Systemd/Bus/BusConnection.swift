import CSystemd
import FleetUnit
import Glibc

typealias UnitStateChange = (unit: String, state: SystemdUnitState)

/// An sd-bus connection to systemd's manager and the state of the units being watched.
///
/// Not thread-safe, like the `sd_bus` it owns: it is created on the caller's thread, then
/// handed to its ``BusLoop`` thread, and used from that thread only. Calls are synchronous
/// (`sd_bus_call`), which is fine on that thread and never happens on the cooperative pool.
final class BusConnection {
    private(set) var bus: OpaquePointer?
    /// Where ``bus`` was opened, so a lost connection can be made anew (``reconnect()``).
    private let address: SystemdBusAddress
    private var matchSlot: OpaquePointer?
    private let changes: AsyncStream<UnitStateChange>.Continuation
    private var watched: [String: WatchedUnit] = [:]
    private var pendingSignals: [PendingSignal] = []

    private struct WatchedUnit {
        /// What was last put on the stream; nil before the first emission.
        var lastEmitted: SystemdUnitState?
        /// The newest message from systemd already reflected in `lastEmitted`. A signal
        /// sent before it carries older information and is dropped.
        var knownAsOf: MessageOrder?
    }

    /// A PropertiesChanged signal recorded by the callback, resolved after `sd_bus_process`.
    private struct PendingSignal {
        var unit: String
        var properties: UnitStateProperties
        var order: MessageOrder?
    }

    /// Connects (without waiting for any reply); ``subscribe()`` must then run on the bus thread.
    init(address: SystemdBusAddress, changes: AsyncStream<UnitStateChange>.Continuation) throws(SystemdError) {
        self.bus = try Self.open(address)
        self.address = address
        self.changes = changes
    }

    deinit { close() }

    /// True when connected straight to the manager's socket, false through a bus daemon.
    var isDirect: Bool { bus.map { sd_bus_is_bus_client($0) <= 0 } ?? false }

    /// Matches PropertiesChanged of every object systemd sends it for, then `Manager.Subscribe`
    /// (without which systemd emits no unit signals at all).
    func subscribe() throws(SystemdError) {
        guard let bus else { throw .connectionClosed() }
        var slot: OpaquePointer?
        // On a direct connection to the manager messages carry no sender: match on none there.
        let sender = sd_bus_is_bus_client(bus) > 0 ? SystemdObjects.destination : nil
        let r = sd_bus_match_signal(
            bus, &slot, sender, nil, SystemdObjects.propertiesInterface, "PropertiesChanged",
            { message, userdata, _ in
                guard let message, let userdata else { return 0 }
                Unmanaged<BusConnection>.fromOpaque(userdata).takeUnretainedValue().propertiesChanged(message)
                return 0
            },
            Unmanaged.passUnretained(self).toOpaque())  // the slot is dropped in close(), before self goes
        guard r >= 0 else { throw .systemCall("sd_bus_match_signal", result: r, message: "PropertiesChanged") }
        matchSlot = slot
        try callManager("Subscribe")
    }

    /// Drops the match, flushes and closes the connection, and ends the state stream.
    func close() {
        disconnect()
        changes.finish()
    }

    private func disconnect() {
        if let matchSlot {
            sd_bus_slot_unref(matchSlot)
            self.matchSlot = nil
        }
        if let bus {
            sd_bus_flush_close_unref(bus)
            self.bus = nil
        }
    }

    /// Opens the connection anew after it was lost, subscribes again and re-reads every watched
    /// unit, emitting those whose state changed meanwhile. The state stream goes on.
    ///
    /// systemd closes its direct connections when it re-executes (`daemon-reexec`, as a package
    /// upgrade does); a bus connection is lost when the bus daemon restarts.
    func reconnect() throws(SystemdError) {
        disconnect()
        pendingSignals.removeAll()
        bus = try Self.open(address)
        try subscribe()
        // The new connection's messages are numbered afresh: what was known is no yardstick.
        for name in watched.keys { watched[name]?.knownAsOf = nil }
        let names = Array(watched.keys)
        guard !names.isEmpty else { return }
        let current = try unitStates(names)
        for (name, state) in current.states { emit(name, state, asOf: current.asOf) }
    }

    // MARK: Event loop integration

    /// The bus fd, the poll(2) events sd-bus wants on it, and how long poll may sleep (-1: forever).
    func pollParameters() throws(SystemdError) -> (descriptor: Int32, events: Int16, timeoutMilliseconds: Int32) {
        guard let bus else { throw .connectionClosed() }
        let descriptor = sd_bus_get_fd(bus)
        guard descriptor >= 0 else { throw .systemCall("sd_bus_get_fd", result: descriptor) }
        let events = sd_bus_get_events(bus)
        guard events >= 0 else { throw .systemCall("sd_bus_get_events", result: events) }
        var deadline: UInt64 = 0  // absolute CLOCK_MONOTONIC µs; 0 when messages are already queued
        let r = sd_bus_get_timeout(bus, &deadline)
        guard r >= 0 else { throw .systemCall("sd_bus_get_timeout", result: r) }
        guard r > 0, deadline != UInt64.max else { return (descriptor, Int16(events), -1) }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowMicroseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        guard deadline > nowMicroseconds else { return (descriptor, Int16(events), 0) }
        let milliseconds = (deadline - nowMicroseconds + 999) / 1_000
        return (descriptor, Int16(events), Int32(clamping: milliseconds))
    }

    /// Runs `sd_bus_process` until it is idle (at most `limit` times, so queued jobs are not
    /// starved), then resolves the signals its callbacks recorded.
    func dispatch(limit: Int = 64) throws(SystemdError) {
        guard let bus else { throw .connectionClosed() }
        for _ in 0..<limit {
            let r = sd_bus_process(bus, nil)
            if r == -ENOTCONN || r == -ECONNRESET { throw .connectionClosed() }
            if r < 0 { throw .systemCall("sd_bus_process", result: r) }
            if r == 0 { break }
        }
        resolvePendingSignals()
        guard sd_bus_is_open(bus) > 0 else { throw .connectionClosed() }
    }

    // MARK: Calls

    /// Calls `member` with string arguments and waits for the reply.
    ///
    /// - Parameter label: the call's name in errors; defaults to `member`.
    @discardableResult
    func call(
        _ path: String, _ interface: String, _ member: String, _ arguments: [String] = [],
        unit: String? = nil, label: String? = nil
    ) throws(SystemdError) -> BusMessage {
        let label = label ?? member
        let request = try methodCall(path, interface, member, unit: unit, label: label)
        for argument in arguments {
            let r = request.append(argument)
            guard r >= 0 else {
                throw .systemCall("sd_bus_message_append_basic", unit: unit, result: r, message: label)
            }
        }
        return try send(request, label: label, unit: unit)
    }

    /// A new method call to systemd, for the caller to append arguments to.
    func methodCall(_ path: String, _ interface: String, _ member: String, unit: String?, label: String)
        throws(SystemdError) -> BusMessage
    {
        guard let bus else { throw .connectionClosed() }
        var raw: OpaquePointer?
        let r = sd_bus_message_new_method_call(bus, &raw, SystemdObjects.destination, path, interface, member)
        guard r >= 0, let raw else {
            throw .systemCall("sd_bus_message_new_method_call", unit: unit, result: r, message: label)
        }
        return BusMessage(adopting: raw)
    }

    /// Sends a prepared method call and waits for its reply.
    func send(_ request: BusMessage, label: String, unit: String?) throws(SystemdError) -> BusMessage {
        guard let bus else { throw .connectionClosed() }
        var error = sd_bus_error()  // SD_BUS_ERROR_NULL is a macro Swift does not import
        defer { sd_bus_error_free(&error) }
        var reply: OpaquePointer?
        let r = sd_bus_call(bus, request.pointer, 0, &error, &reply)
        guard r >= 0, let reply else { throw SystemdError(label, unit: unit, result: r, error: error) }
        return BusMessage(adopting: reply)
    }

    @discardableResult
    func callManager(_ member: String, _ arguments: [String] = [], unit: String? = nil) throws(SystemdError)
        -> BusMessage
    {
        try call(SystemdObjects.managerPath, SystemdObjects.managerInterface, member, arguments, unit: unit)
    }

    /// The states of many units with one `Manager.ListUnitsByNames` call (systemd loads units on
    /// the way, so a new unit file is found), and the reply's order: every signal sent after it
    /// is at least as new as the values returned. Units systemd cannot load are `not-found`.
    func unitStates(_ names: [String]) throws(SystemdError) -> (states: [String: SystemdUnitState], asOf: MessageOrder?) {
        let unit = names.count == 1 ? names[0] : nil
        let request = try methodCall(SystemdObjects.managerPath, SystemdObjects.managerInterface, "ListUnitsByNames",
                                     unit: unit, label: "ListUnitsByNames")
        let r = request.append(strings: names)
        guard r >= 0 else { throw .systemCall("sd_bus_message_append_strv", unit: unit, result: r, message: "ListUnitsByNames") }
        let reply = try send(request, label: "ListUnitsByNames", unit: unit)
        guard let states = reply.readUnitStatesByName() else { throw .invalidReply("ListUnitsByNames", unit: unit, result: 0) }
        return (states, reply.order)
    }

    /// One unit's state (``unitStates(_:)`` for one name).
    func unitState(_ name: String) throws(SystemdError) -> (state: SystemdUnitState, asOf: MessageOrder?) {
        let read = try unitStates([name])
        guard let state = read.states[name] else { throw .invalidReply("ListUnitsByNames", unit: name, result: 0) }
        return (state, read.asOf)
    }

    func reload() throws(SystemdError) {
        try callManager("Reload")
        // A reload can change LoadState without a PropertiesChanged signal (a unit whose file
        // went away becomes not-found), so re-read every watched unit.
        let names = Array(watched.keys)
        guard !names.isEmpty else { return }
        guard let current = try? unitStates(names) else {
            for name in names { refresh(name, force: false) }
            return
        }
        for (name, state) in current.states { emit(name, state, asOf: current.asOf) }
    }

    func startUnit(_ name: String) throws(SystemdError) {
        try callManager("StartUnit", [name, "replace"], unit: name)
    }

    func restartUnit(_ name: String) throws(SystemdError) {
        try callManager("RestartUnit", [name, "replace"], unit: name)
    }

    func stopUnit(_ name: String) throws(SystemdError) {
        do throws(SystemdError) {
            try callManager("StopUnit", [name, "replace"], unit: name)
        } catch where error.code == .noSuchUnit {
            // Not loaded means not running: the stop is already done.
        }
    }

    func resetFailedUnit(_ name: String) throws(SystemdError) {
        do throws(SystemdError) {
            try callManager("ResetFailedUnit", [name], unit: name)
        } catch where error.code == .noSuchUnit {
            // Nothing loaded, nothing failed.
        }
    }

    // MARK: Watching

    /// Watches the units and emits their current states (one call for all), even for units that
    /// were watched already.
    func watch(_ names: [String]) {
        for name in names where watched[name] == nil { watched[name] = WatchedUnit() }
        guard let current = try? unitStates(names) else {
            for name in names { refresh(name, force: true) }  // one by one, so one bad name spoils nothing
            return
        }
        for name in names {
            if let state = current.states[name] { emit(name, state, asOf: current.asOf, force: true) }
        }
    }

    func unwatch(_ name: String) {
        watched[name] = nil
        pendingSignals.removeAll { $0.unit == name }
    }

    /// Reads the unit's state and emits it if it changed (or always, with `force`).
    /// A unit whose state cannot be read is left as it is; the next signal tries again.
    private func refresh(_ name: String, force: Bool) {
        guard let current = try? unitState(name) else { return }
        emit(name, current.state, asOf: current.asOf, force: force)
    }

    private func emit(_ name: String, _ state: SystemdUnitState, asOf: MessageOrder?, force: Bool = false) {
        guard var unit = watched[name] else { return }
        let changed = unit.lastEmitted != state
        unit.lastEmitted = state
        unit.knownAsOf = MessageOrder.latest(unit.knownAsOf, asOf)
        watched[name] = unit
        if changed || force { changes.yield((unit: name, state: state)) }
    }

    /// The match callback, inside `sd_bus_process`: no bus calls here, only recording.
    private func propertiesChanged(_ raw: OpaquePointer) {
        guard let path = sd_bus_message_get_path(raw), let name = SystemdObjects.unitName(fromPath: path),
            let unit = watched[name]
        else { return }
        let message = BusMessage(retaining: raw)
        let order = message.order
        if order?.isNotAfter(unit.knownAsOf) == true { return }  // older than what we already know
        guard let properties = message.readUnitPropertiesChanged() else { return }  // another interface
        pendingSignals.append(PendingSignal(unit: name, properties: properties, order: order))
    }

    /// Turns recorded signals into emissions, in arrival order.
    ///
    /// A signal may carry only some of the three properties; in fact systemd never puts
    /// `LoadState` in PropertiesChanged (it is declared "const": only a reload changes it, and
    /// ``reload()`` re-reads watched units). Missing properties are read with one call, once per
    /// unit and batch, never from inside the callback; the signal's own values win.
    private func resolvePendingSignals() {
        guard !pendingSignals.isEmpty else { return }
        let batch = pendingSignals
        pendingSignals.removeAll()
        var fetched: [String: SystemdUnitState] = [:]
        for signal in batch {
            guard let unit = watched[signal.unit] else { continue }  // unwatched meanwhile
            if signal.order?.isNotAfter(unit.knownAsOf) == true { continue }
            var properties = signal.properties
            // LoadState only changes on a reload, which re-reads every watched unit: take it
            // from the last known state rather than asking systemd for each signal.
            if properties.loadState == nil, let known = unit.lastEmitted?.loadState { properties.loadState = known }
            if !properties.missing.isEmpty {
                if fetched[signal.unit] == nil { fetched[signal.unit] = try? unitState(signal.unit).state }
                guard let known = fetched[signal.unit] else { continue }
                properties = properties.filling(from: UnitStateProperties(
                    loadState: known.loadState, activeState: known.activeState.rawValue, subState: known.subState))
            }
            guard let state = properties.complete else { continue }
            emit(signal.unit, state, asOf: signal.order)
        }
    }
}

@available(*, unavailable)
extension BusConnection: Sendable {}

extension SystemdError {
    /// The error of a failed `sd_bus_call`: the D-Bus error if the peer sent one, else errno.
    init(
        _ call: String, unit: String?, result: Int32, error: sd_bus_error, file: String = #fileID, line: Int = #line
    ) {
        let name = error.name.map { String(cString: $0) }
        let message = error.message.map { String(cString: $0) } ?? ""
        let code: Code
        if name == SystemdError.noSuchUnitErrorName {
            code = .noSuchUnit
        } else if name != nil {
            code = .busError
        } else if result == -ENOTCONN || result == -ECONNRESET {
            code = .connectionClosed
        } else {
            code = .systemCall
        }
        self.init(
            code: code, call: call, unit: unit, errno: result < 0 ? -result : 0, busErrorName: name,
            message: message, file: file, line: line)
    }
}

extension BusConnection {
    /// Every property `systemctl status` shows: the `Unit` interface's, then the unit type's
    /// (`Service`, `Socket`, ...; absent for types without one), each with one `GetAll`.
    func unitProperties(all name: String) throws(SystemdError) -> [String: BusValue] {
        guard let path = SystemdObjects.unitPath(name) else {
            throw SystemdError(code: .invalidUnitName, call: "sd_bus_path_encode", unit: name)
        }
        var properties = try unitProperties(name, path: path, interface: SystemdObjects.unitInterface)
        if let type = SystemdObjects.typeInterface(of: name) {
            // A unit that is not loaded has no type interface.
            if let typed = try? unitProperties(name, path: path, interface: type) {
                properties.merge(typed) { first, _ in first }
            }
        }
        return properties
    }

    /// The `Unit` interface's properties alone (one `GetAll`).
    func unitProperties(_ name: String) throws(SystemdError) -> [String: BusValue] {
        guard let path = SystemdObjects.unitPath(name) else {
            throw SystemdError(code: .invalidUnitName, call: "sd_bus_path_encode", unit: name)
        }
        return try unitProperties(name, path: path, interface: SystemdObjects.unitInterface)
    }

    private func unitProperties(_ name: String, path: String, interface: String) throws(SystemdError)
        -> [String: BusValue]
    {
        let reply = try call(path, SystemdObjects.propertiesInterface, "GetAll", [interface], unit: name,
                             label: "GetAll \(interface)")
        guard let map = reply.readPropertyMap() else { throw .invalidReply("GetAll", unit: name, result: 0) }
        return map
    }
}
