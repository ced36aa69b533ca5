import AsyncHTTPClient
import Foundation
import NIOCore

extension FleetClient {
    /// Response headers of `GET /fleet/v1/store/backup`: the store's index in the copy and its
    /// number of keys (the body is the database file itself).
    public static let backupIndexHeader = "X-Fleet-Store-Index"
    public static let backupKeysHeader = "X-Fleet-Store-Keys"

    /// A backup of the embedded store on its way: the SQLite file as it arrives, and what the
    /// store machine's fleetd said it holds.
    public struct StoreBackup: Sendable {
        public var body: HTTPClientResponseBodyStream
        /// The announced size in bytes (nil if not announced).
        public var length: Int64?
        public var index: UInt64?
        public var keys: Int?
    }

    /// Asks the fleetd that holds the embedded store for a consistent copy of it (admin only
    /// over TLS). Any other fleetd answers 409 saying where to go instead.
    ///
    /// - Parameter timeout: for the whole transfer, not only the answer's start.
    public func storeBackup(timeout: TimeAmount = .minutes(30)) async throws -> StoreBackup {
        let response = try await send("/fleet/v1/store/backup", method: .GET, timeout: timeout)
        try await Self.check(response)
        func number<T: FixedWidthInteger>(_ name: String, as: T.Type) -> T? {
            response.headers.first(name: name).flatMap { T($0.trimmingCharacters(in: .whitespaces)) }
        }
        return StoreBackup(body: response.body, length: number("Content-Length", as: Int64.self),
                           index: number(Self.backupIndexHeader, as: UInt64.self), keys: number(Self.backupKeysHeader, as: Int.self))
    }
}
