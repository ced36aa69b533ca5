import NIOCore
import Synchronization

/// Response-rate limiting for UDP: a token bucket per source prefix (/24 for IPv4, /56 for
/// IPv6), so a flood of queries with a victim's spoofed address cannot turn fleet-dns into a
/// reflector. TCP is not limited here: its handshake proves the source.
///
/// Over the limit a query is dropped, except every `slip`-th, which gets an empty reply with
/// TC set: a real client behind a busy prefix then retries over TCP and still gets its answer,
/// while a victim gets at most one small packet per `slip` queries sent in its name.
///
/// The table is bounded (`maxPrefixes`). When it is full, prefixes whose bucket has refilled
/// are dropped from it (at most one sweep a second); if none has, new prefixes share a single
/// overflow bucket, so many sources at once are limited together rather than growing memory.
/// Loopback is exempt by default: packets from outside never carry a loopback source, and
/// local tools (`scripts/bench-dns`) must not be throttled.
public final class DNSRateLimiter: Sendable {
    public struct Configuration: Sendable {
        /// Responses per second per prefix; 0 turns limiting off.
        public var responsesPerSecond: Int
        /// Responses a quiet prefix may get at once before the rate applies.
        public var burst: Int
        /// Every `slip`-th limited query gets a TC reply; 0 drops them all, 1 answers each with TC.
        public var slip: Int
        /// Prefixes tracked at once.
        public var maxPrefixes: Int
        /// Sources never limited.
        public var exempt: [IPNetwork]

        public init(responsesPerSecond: Int = 100, burst: Int? = nil, slip: Int = 2, maxPrefixes: Int = 16384,
                    exempt: [IPNetwork] = IPNetwork.loopback) {
            self.responsesPerSecond = min(max(0, responsesPerSecond), 1_000_000)
            self.burst = min(max(1, burst ?? self.responsesPerSecond), 1_000_000)
            self.slip = min(max(0, slip), 1000)
            self.maxPrefixes = min(max(1, maxPrefixes), 10_000_000)
            self.exempt = exempt
        }
    }

    public enum Verdict: Sendable, Equatable {
        case answer
        /// Send an empty reply with TC set instead of the answer.
        case slip
        case drop
    }

    /// GCRA, one number per prefix: the time at which its bucket is full again. A response is
    /// allowed while that time, advanced by one response's share, is within the burst window.
    private struct Entry {
        var fullAt: UInt64
        var limited: UInt64 = 0
    }

    private struct Table {
        var entries: [UInt64: Entry] = [:]
        var overflow = Entry(fullAt: 0)
        var lastSweep: UInt64?
    }

    public let configuration: Configuration
    private let interval: UInt64
    private let window: UInt64
    private let table = Mutex(Table())

    public init(configuration: Configuration) {
        self.configuration = configuration
        let rate = UInt64(max(1, configuration.responsesPerSecond))
        interval = 1_000_000_000 / rate
        window = interval * UInt64(configuration.burst)
    }

    public var isEnabled: Bool { configuration.responsesPerSecond > 0 }

    /// What to do with a query from `source` at `now` (nanoseconds on a monotonic clock).
    public func admit(_ source: SocketAddress, now: UInt64) -> Verdict {
        guard let address = PackedIPAddress(source) else { return .answer }
        return admit(address, now: now)
    }

    /// ``admit(_:now:)`` for an address read from a datagram; allocates nothing unless the
    /// prefix is new to the table.
    func admit(_ source: PackedIPAddress, now: UInt64) -> Verdict {
        guard isEnabled, !configuration.exempt.contains(where: { $0.contains(source) }) else { return .answer }
        let key = Self.prefixKey(source)
        return table.withLock { table in
            if table.entries[key] == nil, table.entries.count >= configuration.maxPrefixes {
                sweep(&table, now: now)
                if table.entries.count >= configuration.maxPrefixes {
                    return charge(&table.overflow, now: now)
                }
            }
            return charge(&table.entries[key, default: Entry(fullAt: now)], now: now)
        }
    }

    /// Prefixes tracked now (for tests and metrics).
    public var trackedPrefixes: Int { table.withLock { $0.entries.count } }

    private func charge(_ entry: inout Entry, now: UInt64) -> Verdict {
        let next = max(entry.fullAt, now) &+ interval
        if next &- now <= window {
            entry.fullAt = next
            return .answer
        }
        entry.limited &+= 1
        let slip = UInt64(configuration.slip)
        return slip > 0 && entry.limited % slip == 0 ? .slip : .drop
    }

    private func sweep(_ table: inout Table, now: UInt64) {
        if let last = table.lastSweep, now &- last < 1_000_000_000 { return }
        table.lastSweep = now
        table.entries = table.entries.filter { $0.value.fullAt > now }
    }

    /// The source's prefix as one number: the top 24 bits of an IPv4 address, or the top 56
    /// bits of an IPv6 address with the high bit set, so the two never collide.
    static func prefixKey(_ source: PackedIPAddress) -> UInt64 {
        source.length == 4 ? source.high >> 40 : 1 << 63 | source.high >> 8
    }
}
