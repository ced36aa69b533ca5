#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// fleetd's open-file limit (`RLIMIT_NOFILE`).
///
/// systemd starts services with a soft limit of 1024 for the sake of old `select(2)` users, and
/// a hard limit far above it. fleetd (NIO, epoll) has no such concern, and each client
/// connection and watch costs a descriptor, so it raises the soft limit to the hard one at
/// start-up, as most servers do.
enum DescriptorLimit {
    /// Raises the soft limit to the hard limit; returns the soft limit in force afterwards,
    /// and the one before (nil when it could not be read).
    static func raise() -> (before: UInt64, after: UInt64)? {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return nil }
        let before = UInt64(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(resourceNumber, &raised) == 0 { return (before, UInt64(raised.rlim_max)) }
        return (before, before)
    }

    #if canImport(Glibc)
    private static let resourceNumber = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNumber = RLIMIT_NOFILE
    #endif
}
