import AsyncHTTPClient
import FleetRemoteStore
import FleetUnit
import Foundation
import NIOCore
import NIOHTTP1

/// The body of a streamed response (``FleetClient/journal(_:machineID:forwarded:)``): ByteBuffers as they arrive.
public typealias HTTPClientResponseBodyStream = HTTPClientResponse.Body

/// A client of fleetd's API v1, over a unix socket (`unix:///var/run/fleet.sock`) or HTTP.
public struct FleetClient: Sendable {
    /// The header one fleetd sets on a status or journal request it passes on to another (the
    /// receiver answers from its own systemd and never passes it on again).
    public static let forwardedHeader = "X-Fleet-Forwarded"

    /// Where requests go: `http+unix://<escaped socket path>` or `http://host:port`.
    let base: String
    let client: HTTPClient
    let timeout: TimeAmount

    /// - Throws: ``FleetClientError`` when `endpoint` is not a URL fleetctl can use.
    public init(endpoint: String, client: HTTPClient = .shared, timeout: TimeAmount = .seconds(10)) throws {
        self.base = try Self.base(for: endpoint)
        self.client = client
        self.timeout = timeout
    }

    /// fleet's endpoint rules: `unix://` + absolute path, or `http(s)://host[:port]`.
    static func base(for endpoint: String) throws -> String {
        let first = endpoint.split(separator: ",").first.map(String.init) ?? endpoint
        guard let schemeEnd = first.range(of: "://") else {
            throw FleetClientError("invalid endpoint \"\(endpoint)\": URL scheme undefined (use unix:///path or http://host:port)")
        }
        let scheme = first[..<schemeEnd.lowerBound].lowercased()
        let rest = String(first[schemeEnd.upperBound...])
        switch scheme {
        case "unix", "file":
            guard rest.hasPrefix("/") else {
                let host = rest.split(separator: "/").first.map(String.init) ?? rest
                throw FleetClientError("unable to connect to host \"\(host)\" with scheme \"\(scheme)\"")
            }
            let escaped = rest.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? rest
            return "http+unix://" + escaped
        case "http", "https":
            guard !rest.isEmpty, !rest.hasPrefix("/") else {
                throw FleetClientError("invalid endpoint \"\(endpoint)\": no host")
            }
            return scheme + "://" + (rest.hasSuffix("/") ? String(rest.dropLast()) : rest)
        default:
            throw FleetClientError("invalid endpoint \"\(endpoint)\": unsupported scheme \"\(scheme)\"")
        }
    }

    /// The cluster's store through the same fleetd, which serves the etcd-v2 keys API next to
    /// the fleet API (discovery records, watches).
    public func store() -> RemoteStore {
        RemoteStore(url: base, client: client, requestTimeout: timeout)
    }

    /// Every unit, walking all pages as fleetctl does.
    public func units() async throws -> [UnitEntity] {
        try await all("/fleet/v1/units", as: UnitPage.self) { ($0.units, $0.nextPageToken) }
    }

    /// The unit, or nil when the registry has no unit of that name.
    public func unit(_ name: String) async throws -> UnitEntity? {
        do {
            return try await get("/fleet/v1/units/\(Self.escape(name))", as: UnitEntity.self)
        } catch let error as FleetClientError where error.status == 404 {
            return nil
        }
    }

    public func states() async throws -> [UnitStateEntity] {
        try await all("/fleet/v1/state", as: UnitStatePage.self) { ($0.states, $0.nextPageToken) }
    }

    public func machines() async throws -> [MachineEntity] {
        try await all("/fleet/v1/machines", as: MachinePage.self) { ($0.machines, $0.nextPageToken) }
    }

    /// The page size a listing asks for (`pageSize`, which fleetd takes and fleet ignores):
    /// fleetd reads the whole registry for every page, and fleetctl lists the cluster every
    /// 50 ms while it waits for a start, so one page is one read instead of one per 100 units.
    static let listingPageSize = 65535

    /// Follows `nextPageToken` until the last page.
    func all<Page: Decodable, Item>(_ path: String, as type: Page.Type,
                                    _ split: (Page) -> ([Item], String?)) async throws -> [Item] {
        var items: [Item] = []
        var token: String?
        repeat {
            var query = "?pageSize=\(Self.listingPageSize)"
            if let token { query += "&nextPageToken=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token) }
            let (pageItems, next) = split(try await get(path + query, as: type))
            items += pageItems
            token = next
        } while token != nil
        return items
    }

    /// Creates a unit (or replaces one whose options differ).
    public func createUnit(_ unit: UnitEntity) async throws {
        try await put(unit)
    }

    public func setDesiredState(_ name: String, _ state: DesiredState) async throws {
        try await put(UnitEntity(name: name, desiredState: state))
    }

    /// Removes a unit; false when there was none.
    public func destroyUnit(_ name: String) async throws -> Bool {
        let response = try await send("/fleet/v1/units/\(Self.escape(name))", method: .DELETE)
        if response.status == .notFound { return false }
        try await Self.check(response)
        return true
    }

    /// The unit's `systemctl status` from the fleetd of its machine (or of `machineID`).
    ///
    /// - Parameter forwarded: set by a fleetd passing the request on: answer locally.
    public func unitStatus(_ name: String, machineID: String? = nil, forwarded: Bool = false) async throws
        -> UnitStatusEntity
    {
        let query = machineID.map { "?machineID=" + Self.escape($0) } ?? ""
        return try await get("/fleet/v1/units/\(Self.escape(name))/status" + query, as: UnitStatusEntity.self,
                             headers: forwarded ? [Self.forwardedHeader: "1"] : [:])
    }

    /// The unit's journal lines as they arrive (text, newline-terminated). With `follow`, the
    /// body stays open until the caller stops reading.
    public func journal(_ request: JournalRequest, machineID: String? = nil, forwarded: Bool = false) async throws
        -> HTTPClientResponseBodyStream
    {
        var query = "?lines=\(request.lines)&follow=\(request.follow)&output=\(Self.escape(request.output))"
        if request.follow && request.heartbeat > 0 { query += "&heartbeat=\(request.heartbeat)" }
        if let machineID { query += "&machineID=" + Self.escape(machineID) }
        let response = try await send("/fleet/v1/units/\(Self.escape(request.unit))/journal" + query, method: .GET,
                                      headers: forwarded ? [Self.forwardedHeader: "1"] : [:],
                                      timeout: request.follow ? .hours(24 * 365) : nil)
        try await Self.check(response)
        return response.body
    }

    func put(_ unit: UnitEntity) async throws {
        let body = try JSONEncoder().encode(unit)
        try await Self.check(try await send("/fleet/v1/units/\(Self.escape(unit.name))", method: .PUT, body: body))
    }

    func get<T: Decodable>(_ path: String, as type: T.Type, headers: [String: String] = [:]) async throws -> T {
        let response = try await send(path, method: .GET, headers: headers)
        try await Self.check(response)
        let body = try await response.body.collect(upTo: 256 << 20)
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw FleetClientError("fleetd sent a reply that is not valid API JSON for \(path): \(error)")
        }
    }

    func send(_ path: String, method: HTTPMethod, body: Data? = nil, headers: [String: String] = [:],
              timeout: TimeAmount? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await client.execute(request, timeout: timeout ?? self.timeout)
        } catch {
            throw FleetClientError("cannot reach fleetd at \(base.removingPercentEncoding ?? base): \(error)")
        }
    }

    static func check(_ response: HTTPClientResponse) async throws {
        guard !(200..<300).contains(response.status.code) else { return }
        let body = try await response.body.collect(upTo: 1 << 20)
        let message = (try? JSONDecoder().decode(ErrorBody.self, from: body))?.error.message
            ?? String(buffer: body)
        throw FleetClientError("googleapi: Error \(response.status.code): \(message)", status: Int(response.status.code),
                               apiMessage: message)
    }

    static func escape(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
    }
}

/// Why a request to fleetd failed, in words for the person at the terminal.
public struct FleetClientError: Error, CustomStringConvertible {
    public var message: String
    /// The HTTP status, when fleetd answered.
    public var status: Int?
    /// fleetd's own message, without the `googleapi: Error <code>:` prefix.
    public var apiMessage: String

    public init(_ message: String, status: Int? = nil, apiMessage: String? = nil) {
        self.message = message
        self.status = status
        self.apiMessage = apiMessage ?? message
    }

    public var description: String { message }
}
