/// What a backup of the embedded store holds, read back from the copy itself: so what fleetctl
/// prints is what the file contains, not what the live store had a moment later.
public struct StoreBackupFacts: Sendable, Equatable {
    /// The file written.
    public var path: String
    /// Its size in bytes.
    public var bytes: Int64
    /// The store's global index in the copy (every write up to it is in the file).
    public var index: UInt64
    /// Keys with a value (directories not counted).
    public var keys: Int

    public init(path: String, bytes: Int64, index: UInt64, keys: Int) {
        self.path = path
        self.bytes = bytes
        self.index = index
        self.keys = keys
    }
}
