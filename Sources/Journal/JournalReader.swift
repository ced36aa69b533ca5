import CSystemd
import Foundation
import Synchronization

/// Reads this machine's journal with libsystemd's sd-journal, the way `journalctl --unit`
/// does, and hands entries out as formatted lines.
///
/// An `sd_journal` handle must stay on one thread, and waiting for new entries blocks, so each
/// read runs on a thread of its own. The stream ends after the last line, or, when following,
/// once the consumer stops iterating (checked at least every ``followPoll``).
///
/// ```swift
/// for try await line in JournalReader.lines(JournalQuery(unit: "web@1.service", lines: 20)) {
///     print(line)
/// }
/// ```
public enum JournalReader {
    /// How long a following reader sleeps in `sd_journal_wait` before it checks whether its
    /// consumer went away.
    public static let followPoll: Duration = .milliseconds(500)

    /// The query's lines, formatted; throws ``JournalError`` when the journal cannot be opened.
    public static func lines(_ query: JournalQuery) -> AsyncThrowingStream<String, any Error> {
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let stop = StopFlag()
        continuation.onTermination = { _ in stop.set() }
        let thread = Thread {
            do {
                try read(query, stop: stop) { continuation.yield($0.formatted(query.format)) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.name = "journal \(query.unit)"
        thread.start()
        return stream
    }

    /// Throws ``JournalError`` if this machine's journal cannot be opened.
    public static func check() throws {
        _ = try Journal.open()
    }

    /// The query's entries, synchronously, on the calling thread; `emit` gets each in order.
    /// Following returns only once `stop` is set.
    static func read(_ query: JournalQuery, stop: StopFlag, emit: (JournalEntry) -> Void) throws(JournalError) {
        let journal = try Journal.open()
        // sd_journal_wait sets up its inotify watches on first use; an entry written between
        // the open and then would never wake it.
        if query.follow { try journal.watchForChanges() }
        try journal.matchUnit(query.unit)
        let opened = Journal.realtimeNow()
        try journal.seekTail()
        // Step back over the newest `lines` entries, then play them forward.
        var back = 0
        while back < query.lines, try journal.previous() { back += 1 }
        if back > 0 {
            emit(try journal.entry())
        } else {
            // Nothing of the unit yet (a unit just created, whose first lines a follower waits
            // for). A tail position with no entry of the unit never settles on one: each next()
            // would look after the journal's newest entry of the moment, and the unit's lines
            // as they come were all missed. A time does settle: every entry of the unit from a
            // second before the open on is new to this reader, as none was there to step back to.
            try journal.seek(realtime: opened > 1_000_000 ? opened - 1_000_000 : 0)
        }
        while !stop.isSet {
            while !stop.isSet, try journal.next() { emit(try journal.entry()) }
            guard query.follow, !stop.isSet else { return }
            try journal.wait(followPoll)
        }
    }
}

/// Why the journal could not be read.
public struct JournalError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ call: String, result: Int32) {
        description = "journal: \(call) failed: \(String(cString: strerror(-result)))"
    }
}

/// Set once by the consumer's side, read by the reader's thread.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// One `sd_journal` handle of the local machine's journal files; closed on deinit.
final class Journal {
    private let handle: OpaquePointer

    private init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { sd_journal_close(handle) }

    /// The local machine's journal (this machine ID's files only, as journalctl without `-m`).
    static func open() throws(JournalError) -> Journal {
        var handle: OpaquePointer?
        let r = sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard r >= 0, let handle else { throw JournalError("sd_journal_open", result: r) }
        return Journal(handle)
    }

    /// Entries belonging to `unit` by any of ``JournalQuery/unitFields``.
    func matchUnit(_ unit: String) throws(JournalError) {
        for (index, field) in JournalQuery.unitFields.enumerated() {
            if index > 0 { try check(sd_journal_add_disjunction(handle), "sd_journal_add_disjunction") }
            let match = Array("\(field)=\(unit)".utf8)
            try check(match.withUnsafeBytes { sd_journal_add_match(handle, $0.baseAddress, $0.count) },
                      "sd_journal_add_match")
        }
    }

    func seekTail() throws(JournalError) { try check(sd_journal_seek_tail(handle), "sd_journal_seek_tail") }

    /// Positions before the first entry at or after `usec` (microseconds since the epoch).
    func seek(realtime usec: UInt64) throws(JournalError) {
        try check(sd_journal_seek_realtime_usec(handle, usec), "sd_journal_seek_realtime_usec")
    }

    /// The wall clock in microseconds since the epoch, as journal entries are stamped.
    static func realtimeNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(max(0, now.tv_sec)) * 1_000_000 + UInt64(max(0, now.tv_nsec)) / 1000
    }

    /// Moves to the previous matching entry; false at the start.
    func previous() throws(JournalError) -> Bool {
        let r = sd_journal_previous(handle)
        try check(r, "sd_journal_previous")
        return r > 0
    }

    /// Moves to the next matching entry; false at the end.
    func next() throws(JournalError) -> Bool {
        let r = sd_journal_next(handle)
        try check(r, "sd_journal_next")
        return r > 0
    }

    /// Sets up the watches ``wait(_:)`` relies on (`sd_journal_get_fd`), from this moment on.
    func watchForChanges() throws(JournalError) { try check(sd_journal_get_fd(handle), "sd_journal_get_fd") }

    /// Blocks until the journal changes or `timeout` passes.
    func wait(_ timeout: Duration) throws(JournalError) {
        let micros = UInt64(timeout.components.seconds) * 1_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000_000)
        try check(sd_journal_wait(handle, micros), "sd_journal_wait")
    }

    /// The fields of the current entry. Binary values are shown as text, invalid UTF-8 replaced.
    func entry() throws(JournalError) -> JournalEntry {
        var fields: [String: String] = [:]
        var data: UnsafeRawPointer?
        var length = 0
        sd_journal_restart_data(handle)
        while sd_journal_enumerate_data(handle, &data, &length) > 0, let data {
            let bytes = UnsafeRawBufferPointer(start: data, count: length)
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: bytes[..<equals], as: UTF8.self)
            fields[name] = String(decoding: bytes[(equals + 1)...], as: UTF8.self)
        }
        var realtime: UInt64 = 0
        try check(sd_journal_get_realtime_usec(handle, &realtime), "sd_journal_get_realtime_usec")
        var cursor: UnsafeMutablePointer<CChar>?
        var cursorText: String?
        if sd_journal_get_cursor(handle, &cursor) >= 0, let cursor {
            cursorText = String(cString: cursor)
            free(cursor)
        }
        return JournalEntry(fields: fields, realtime: realtime, cursor: cursorText)
    }

    private func check(_ r: Int32, _ call: String) throws(JournalError) {
        if r < 0 { throw JournalError(call, result: r) }
    }
}

@available(*, unavailable)
extension Journal: Sendable {}
