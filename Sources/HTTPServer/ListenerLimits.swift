/// The bounds of one HTTP listener (the keys API, the fleet API on TCP or on its unix socket).
///
/// Every connection costs a descriptor and some memory for as long as it stays open, and the
/// clients are not fleet's to trust: without bounds, abandoned or idle connections pile up until
/// the process runs out of descriptors and stops accepting anything.
public struct ListenerLimits: Sendable, Equatable {
    /// Connections open at once; one more is accepted and closed at once, so it never waits in
    /// the backlog while the ones already open keep working. The default leaves room for a
    /// store machine serving about 300 other fleetds (each holds its watches, one connection
    /// apiece, and a few pooled connections for requests).
    public var maxConnections: Int
    /// A connection with no request in flight for this long is closed. A request in flight (a
    /// long-poll or streaming watch, `journal -f`) is never cut by it. nil: no idle timeout.
    public var idleTimeout: Duration?
    /// The request line and headers together, in bytes; larger requests get 400 and a close.
    public var maxHeaderBytes: Int
    /// Header fields per request.
    public var maxHeaderFields: Int

    public static let defaultMaxConnections = 4096
    public static let defaultIdleTimeout: Duration = .seconds(120)
    public static let defaultMaxHeaderBytes = 64 * 1024
    public static let defaultMaxHeaderFields = 100

    public init(maxConnections: Int = defaultMaxConnections, idleTimeout: Duration? = defaultIdleTimeout,
                maxHeaderBytes: Int = defaultMaxHeaderBytes, maxHeaderFields: Int = defaultMaxHeaderFields) {
        self.maxConnections = max(1, maxConnections)
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = max(1024, maxHeaderBytes)
        self.maxHeaderFields = max(8, maxHeaderFields)
    }

    /// Descriptors kept free for everything that is not a client connection: the store's files,
    /// the bus, journal readers, outgoing requests.
    public static let reservedDescriptors = 256

    /// These limits with `maxConnections` lowered, if needed, so that `listeners` listeners
    /// at their cap still leave ``reservedDescriptors`` of `descriptorLimit` free. Returns nil
    /// when nothing had to change.
    public func fitted(toDescriptorLimit descriptorLimit: UInt64, listeners: Int) -> ListenerLimits? {
        guard listeners > 0 else { return nil }
        let available = descriptorLimit > UInt64(Self.reservedDescriptors)
            ? descriptorLimit - UInt64(Self.reservedDescriptors) : 0
        let share = available / UInt64(listeners)
        guard share < UInt64(maxConnections) else { return nil }
        var fitted = self
        fitted.maxConnections = Int(max(16, share))
        return fitted
    }
}
