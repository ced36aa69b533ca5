import FleetDiscovery
import CAvahi
import Dispatch
import Glibc
import Logging

/// Keeps a set of ``MDNSService``s published through the local avahi-daemon with
/// libavahi-client, across daemon restarts.
///
/// Callers state what should be announced under a key (``publish(_:key:)``, ``withdraw(key:)``,
/// ``replaceAll(_:)``); the publisher makes avahi match it whenever a daemon is reachable:
/// one entry group per key, TXT changed in place when only TXT changed, a new name
/// (`avahi_alternative_service_name`) on collision, and everything re-published after
/// reconnecting. With no daemon or no system bus it logs once and retries with backoff.
///
/// Threads: libavahi runs on an `AvahiThreadedPoll` thread and is not thread-safe, so every
/// avahi call and every field below is touched only with that poll's lock held -- by the poll
/// thread itself while it dispatches callbacks, or between `avahi_threaded_poll_lock`/`unlock`
/// on ``queue``. That lock is why this class can be `@unchecked Sendable`. The public methods only
/// enqueue on ``queue``: they return at once, so async callers never block on the lock or on
/// the synchronous D-Bus round trips the avahi calls make.
public final class AvahiPublisher: @unchecked Sendable {
    /// What one key wants announced, and what avahi has of it.
    final class Entry {
        let key: String
        unowned let publisher: AvahiPublisher
        /// Wanted; nil means withdraw and forget the entry.
        var desired: MDNSService?
        /// The last service handed to avahi on ``group`` (nil: nothing added yet).
        var applied: MDNSService?
        /// Lives as long as the client that made it; nil after a disconnect.
        var group: OpaquePointer?
        /// The name in use: `desired.name`, or an alternative after a collision.
        var name: String = ""

        init(key: String, publisher: AvahiPublisher) {
            self.key = key
            self.publisher = publisher
        }
    }

    private let logger: Logger
    private let queue = DispatchQueue(label: "fleet.mdns.avahi")
    private let poll: OpaquePointer
    private let api: UnsafePointer<AvahiPoll>
    private var client: OpaquePointer?
    /// True between `S_RUNNING` and the next other state: only then may services be added.
    private var running = false
    private var entries: [String: Entry] = [:]
    private var reconnectTimer: OpaquePointer?
    private var retryDelayMS: UInt32 = AvahiPublisher.minimumRetryMS
    /// The last connection error logged, so a daemon that stays away costs one line, not one per retry.
    private var lastConnectError: Int32?
    private var lastConnectReason: String?
    private var stopped = false

    static let minimumRetryMS: UInt32 = 250
    static let maximumRetryMS: UInt32 = 5_000

    /// Starts the poll thread; nothing is announced until ``start()``.
    ///
    /// - Throws: ``AvahiPublisherError`` when the poll or its thread cannot be created.
    public init(logger: Logger) throws {
        guard let poll = avahi_threaded_poll_new() else {
            throw AvahiPublisherError(call: "avahi_threaded_poll_new", code: AvahiCode.noMemory)
        }
        // The thread runs from here on: connection retries are timers on this poll.
        guard avahi_threaded_poll_start(poll) >= 0 else {
            avahi_threaded_poll_free(poll)
            throw AvahiPublisherError(call: "avahi_threaded_poll_start", code: AvahiCode.failure)
        }
        self.poll = poll
        self.api = avahi_threaded_poll_get(poll)
        self.logger = logger
    }

    deinit {
        // ``stop()`` normally ran; this is the path for a publisher dropped without it.
        if !stopped {
            avahi_threaded_poll_stop(poll)
            if let client { avahi_client_free(client) }
        }
        avahi_threaded_poll_free(poll)
    }

    /// Makes the first connection attempt; later ones follow by themselves.
    public func start() {
        queue.async { self.locked { self.connect() } }
    }

    /// Announces `service` under `key`, replacing what `key` announced before.
    public func publish(_ service: MDNSService, key: String) {
        queue.async { self.locked { self.want(service, key: key) } }
    }

    /// Withdraws what `key` announces, if anything.
    public func withdraw(key: String) {
        queue.async { self.locked { self.want(nil, key: key) } }
    }

    /// Withdraws every key at or below `prefix` (a removed directory of records).
    public func withdrawAll(under prefix: String) {
        queue.async {
            self.locked {
                for key in self.entries.keys where key == prefix || key.hasPrefix(prefix + "/") {
                    self.want(nil, key: key)
                }
            }
        }
    }

    /// Makes `services` the complete set: keys not in it are withdrawn (after a full re-read).
    public func replaceAll(_ services: [String: MDNSService]) {
        queue.async {
            self.locked {
                for key in self.entries.keys where services[key] == nil { self.want(nil, key: key) }
                for (key, service) in services { self.want(service, key: key) }
            }
        }
    }

    /// Withdraws everything (freeing the client makes the daemon send goodbye packets) and stops
    /// the poll thread. Nothing is published afterwards.
    public func stop() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                self.locked {
                    self.stopped = true
                    let announced = self.entries.values.filter { $0.group != nil }.count
                    if announced > 0 {
                        self.logger.info("mDNS: withdrawing all services", metadata: ["mdns.services": "\(announced)"])
                    }
                    if let timer = self.reconnectTimer { self.api.pointee.timeout_free(timer) }
                    self.reconnectTimer = nil
                    for entry in self.entries.values { entry.group = nil }
                    self.entries = [:]
                    if let client = self.client { avahi_client_free(client) }  // frees its groups too
                    self.client = nil
                    self.running = false
                }
                // Outside the lock: stopping joins the poll thread, which may be waiting for it.
                avahi_threaded_poll_stop(self.poll)
                done.resume()
            }
        }
    }

    // MARK: - Under the poll lock

    private func locked(_ body: () -> Void) {
        avahi_threaded_poll_lock(poll)
        body()
        avahi_threaded_poll_unlock(poll)
    }

    private var userdata: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    private func want(_ service: MDNSService?, key: String) {
        if stopped { return }
        let entry: Entry
        if let existing = entries[key] {
            entry = existing
        } else {
            guard service != nil else { return }
            entry = Entry(key: key, publisher: self)
            entries[key] = entry
        }
        entry.desired = service
        sync(entry)
    }

    /// Creates the client. Success or failure may already have been reported to
    /// ``clientChanged(_:state:)``, which libavahi calls from *inside* `avahi_client_new`.
    private func connect() {
        guard !stopped, client == nil else { return }
        var error: Int32 = 0
        // No AVAHI_CLIENT_NO_FAIL: it does not survive a missing system bus anyway, and one
        // retry path (timer, new client) for "no bus", "no daemon" and "daemon went away" is
        // simpler to reason about than two.
        let made = avahi_client_new(api, AvahiClientFlags(0), AvahiCallbacks.client, userdata, &error)
        if let made {
            client = made
            return
        }
        // A failed avahi_client_new freed its client (and any group made on it in the callback).
        client = nil
        running = false
        for entry in entries.values { entry.group = nil; entry.applied = nil }
        // avahi says "Daemon not running" whether the bus or the daemon is missing; tell them apart
        // so the log line points at what to start.
        let reason = Self.systemBusIsThere() ? "avahi-daemon is not on the system D-Bus"
                                             : "there is no system D-Bus (\(Self.systemBusAddress))"
        if lastConnectError != error || lastConnectReason != reason {
            lastConnectError = error
            lastConnectReason = reason
            logger.info("mDNS: cannot reach avahi-daemon: \(reason); retrying with backoff",
                        metadata: ["avahi.error": "\(avahiErrorText(error))", "avahi.retry_ms": "\(retryDelayMS)"])
        } else {
            logger.debug("mDNS: avahi-daemon still not reachable", metadata: ["avahi.error": "\(avahiErrorText(error))"])
        }
        scheduleReconnect()
    }

    /// Where libdbus looks for the system bus: `DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket.
    static var systemBusAddress: String {
        getenv("DBUS_SYSTEM_BUS_ADDRESS").map { String(cString: $0) } ?? "unix:path=/run/dbus/system_bus_socket"
    }

    /// True unless the system bus is a `unix:path=` socket that does not exist (other address
    /// kinds are not checked: libdbus will say).
    static func systemBusIsThere() -> Bool {
        let address = systemBusAddress
        guard address.hasPrefix("unix:path=") else { return true }
        let path = address.dropFirst("unix:path=".count).prefix { $0 != "," }
        return access(String(path), F_OK) == 0
    }

    private func scheduleReconnect() {
        guard !stopped else { return }
        var when = timeval()
        avahi_elapse_time(&when, retryDelayMS, 0)
        if let timer = reconnectTimer {
            api.pointee.timeout_update(timer, &when)
        } else {
            reconnectTimer = api.pointee.timeout_new(api, &when, AvahiCallbacks.retry, userdata)
        }
        retryDelayMS = min(retryDelayMS * 2, Self.maximumRetryMS)
    }

    /// The retry timer fired (poll thread, lock held): drop the dead client, make a new one.
    fileprivate func retry() {
        if let client {
            // Freed here rather than in its own FAILURE callback: libavahi is still on its stack there.
            avahi_client_free(client)
            self.client = nil
        }
        connect()
    }

    fileprivate func clientChanged(_ changed: OpaquePointer?, state: AvahiClientState) {
        // Inside avahi_client_new the return value has not reached ``client`` yet.
        if client == nil, let changed { client = changed }
        switch state {
        case AVAHI_CLIENT_S_RUNNING:
            running = true
            retryDelayMS = AvahiPublisher.minimumRetryMS
            lastConnectError = nil
            lastConnectReason = nil
            let host = avahi_client_get_host_name_fqdn(changed).map { String(cString: $0) } ?? "?"
            logger.info("mDNS: connected to avahi-daemon", metadata: ["avahi.host": "\(host)",
                                                                     "mdns.services": "\(entries.count)"])
            for entry in Array(entries.values) { sync(entry) }
        case AVAHI_CLIENT_S_REGISTERING, AVAHI_CLIENT_S_COLLISION:
            // The daemon is (re)probing its own host name; services must wait for S_RUNNING,
            // which re-adds them. A fresh daemon starts here, before any group exists -- and
            // avahi_entry_group_reset(NULL) aborts, hence the nil checks.
            running = false
            for entry in entries.values {
                if let group = entry.group { avahi_entry_group_reset(group) }
                entry.applied = nil
            }
        case AVAHI_CLIENT_FAILURE:
            running = false
            let error = avahi_client_errno(changed)
            // Its groups died with the connection; the client is freed by the retry timer.
            for entry in entries.values { entry.group = nil; entry.applied = nil }
            if error == AvahiCode.disconnected {
                logger.info("mDNS: avahi-daemon went away; reconnecting", metadata: ["avahi.error": "\(avahiErrorText(error))"])
            } else {
                logger.info("mDNS: avahi client failed; reconnecting", metadata: ["avahi.error": "\(avahiErrorText(error))"])
            }
            lastConnectError = error
            scheduleReconnect()
        default:  // AVAHI_CLIENT_CONNECTING: only with AVAHI_CLIENT_NO_FAIL, which is not used
            break
        }
    }

    /// Brings one entry in line with its desired service, if a daemon is there to talk to.
    private func sync(_ entry: Entry) {
        guard let wanted = entry.desired else {
            if let group = entry.group {
                avahi_entry_group_free(group)  // withdraws: the daemon sends goodbyes
                logger.info("mDNS: withdrawn", metadata: ["store.key": "\(entry.key)", "mdns.name": "\(entry.name)"])
            }
            entry.group = nil
            entries[entry.key] = nil
            return
        }
        guard running, let client else { return }
        if entry.applied == wanted { return }
        if entry.group == nil {
            guard let group = avahi_entry_group_new(client, AvahiCallbacks.group,
                                                    Unmanaged.passUnretained(entry).toOpaque()) else {
                logger.info("mDNS: cannot create an entry group",
                             metadata: ["store.key": "\(entry.key)", "avahi.error": "\(avahiErrorText(avahi_client_errno(client)))"])
                return
            }
            entry.group = group
        }
        if let applied = entry.applied, wanted.differsOnlyInTXT(from: applied), let group = entry.group {
            // Same name, type and port: change TXT in place, no re-probe or goodbye in between.
            let result = withTXT(wanted.txt) { txt in
                avahi_entry_group_update_service_txt_strlst(
                    group, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiPublishFlags(0),
                    entry.name, wanted.type, nil, txt)
            }
            if result == AvahiCode.ok {
                entry.applied = wanted
                logger.info("mDNS: TXT updated", metadata: ["store.key": "\(entry.key)", "mdns.name": "\(entry.name)"])
                return
            }
            logger.debug("mDNS: TXT update refused; registering again",
                         metadata: ["store.key": "\(entry.key)", "avahi.error": "\(avahiErrorText(result))"])
        }
        register(entry, wanted)
    }

    /// Puts `service` into the entry's group from scratch and commits it.
    private func register(_ entry: Entry, _ service: MDNSService) {
        guard let group = entry.group else { return }
        // Keep an alternative name picked after a collision only while the asked-for name stays.
        if entry.applied?.name != service.name || entry.name.isEmpty { entry.name = service.name }
        avahi_entry_group_reset(group)
        var result: Int32 = AvahiCode.ok
        // add_service reports a clash with another service of this same daemon at once
        // (AVAHI_ERR_COLLISION) rather than through the group callback; pick the next name.
        for _ in 0..<16 {
            result = withTXT(service.txt) { txt in
                avahi_entry_group_add_service_strlst(
                    group, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiPublishFlags(0),
                    entry.name, service.type, nil, nil, service.port, txt)
            }
            if result != AvahiCode.collision { break }
            entry.name = alternativeName(entry.name)
        }
        // Recorded even on failure, so an entry avahi refuses (bad type, say) is not retried on
        // every change until the record itself changes.
        entry.applied = service
        guard result == AvahiCode.ok else {
            logger.info("mDNS: avahi refused the service",
                         metadata: ["store.key": "\(entry.key)", "mdns.name": "\(entry.name)",
                                    "mdns.type": "\(service.type)", "avahi.error": "\(avahiErrorText(result))"])
            avahi_entry_group_reset(group)
            return
        }
        for subtype in service.subtypes {
            let r = avahi_entry_group_add_service_subtype(
                group, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiPublishFlags(0),
                entry.name, service.type, nil, subtype)
            if r != AvahiCode.ok {
                logger.info("mDNS: subtype skipped", metadata: ["store.key": "\(entry.key)", "mdns.subtype": "\(subtype)",
                                                                "avahi.error": "\(avahiErrorText(r))"])
            }
        }
        let committed = avahi_entry_group_commit(group)
        if committed != AvahiCode.ok {
            logger.info("mDNS: commit failed", metadata: ["store.key": "\(entry.key)", "avahi.error": "\(avahiErrorText(committed))"])
        }
    }

    fileprivate func groupChanged(_ entry: Entry, group: OpaquePointer?, state: AvahiEntryGroupState) {
        switch state {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            logger.info("mDNS: published", metadata: [
                "store.key": "\(entry.key)", "mdns.name": "\(entry.name)",
                "mdns.type": "\(entry.applied?.type ?? "?")", "mdns.port": "\(entry.applied?.port ?? 0)",
            ])
        case AVAHI_ENTRY_GROUP_COLLISION:
            // Another host announces this name; avahi has withdrawn ours. Retry as "name #2".
            let taken = entry.name
            entry.name = alternativeName(entry.name)
            logger.info("mDNS: name taken on the network; renaming",
                        metadata: ["store.key": "\(entry.key)", "mdns.name": "\(taken)", "mdns.new_name": "\(entry.name)"])
            if let wanted = entry.desired, running { register(entry, wanted) }
        case AVAHI_ENTRY_GROUP_FAILURE:
            let error = group.map { avahi_client_errno(avahi_entry_group_get_client($0)) } ?? AvahiCode.failure
            logger.info("mDNS: entry group failed", metadata: ["store.key": "\(entry.key)", "avahi.error": "\(avahiErrorText(error))"])
        default:  // UNCOMMITED, REGISTERING: on the way
            break
        }
    }

    private func alternativeName(_ name: String) -> String {
        guard let alternative = avahi_alternative_service_name(name) else { return name + " #2" }
        defer { avahi_free(alternative) }
        return String(cString: alternative)
    }

    /// Calls `body` with `strings` as an `AvahiStringList` (built with the non-variadic
    /// `avahi_string_list_add`; it prepends, so add in reverse to keep the order), then frees it.
    private func withTXT(_ strings: [String], _ body: (UnsafeMutablePointer<AvahiStringList>?) -> Int32) -> Int32 {
        var list: UnsafeMutablePointer<AvahiStringList>? = nil
        for string in strings.reversed() { list = avahi_string_list_add(list, string) }
        defer { avahi_string_list_free(list) }
        return body(list)
    }
}

/// The C callbacks. They cannot capture, so the publisher or entry rides in `userdata`; they run
/// on the poll thread with its lock held (or inside `avahi_client_new`, under ``AvahiPublisher``'s
/// own lock), which is the lock the publisher's state needs.
enum AvahiCallbacks {
    static let client: AvahiClientCallback = { client, state, userdata in
        guard let userdata else { return }
        Unmanaged<AvahiPublisher>.fromOpaque(userdata).takeUnretainedValue().clientChanged(client, state: state)
    }

    static let group: AvahiEntryGroupCallback = { group, state, userdata in
        guard let userdata else { return }
        let entry = Unmanaged<AvahiPublisher.Entry>.fromOpaque(userdata).takeUnretainedValue()
        entry.publisher.groupChanged(entry, group: group, state: state)
    }

    static let retry: AvahiTimeoutCallback = { _, userdata in
        guard let userdata else { return }
        Unmanaged<AvahiPublisher>.fromOpaque(userdata).takeUnretainedValue().retry()
    }
}

/// libavahi's error codes come from an anonymous enum (imported as `Int`); its calls return `Int32`.
enum AvahiCode {
    static let ok = Int32(AVAHI_OK)
    static let failure = Int32(AVAHI_ERR_FAILURE)
    static let collision = Int32(AVAHI_ERR_COLLISION)
    static let disconnected = Int32(AVAHI_ERR_DISCONNECTED)
    static let noMemory = Int32(AVAHI_ERR_NO_MEMORY)
}

/// avahi's message for an error code (`Daemon not running`), with the code.
func avahiErrorText(_ code: Int32) -> String {
    "\(String(cString: avahi_strerror(code))) (\(code))"
}

/// A libavahi call that failed outright.
public struct AvahiPublisherError: Error, CustomStringConvertible {
    public var call: String
    public var code: Int32

    public var description: String { "\(call) failed: \(avahiErrorText(code))" }
}
