import FleetAPIClient
import FleetHTTPServer
import FleetRegistry
import FleetUnit
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Not in fleet: `/fleet/v1/units/<name>/status` and `/fleet/v1/units/<name>/journal`, what
/// fleet's `status` and `journal` did over SSH. Any fleetd answers: it finds the machine that
/// runs the unit and, if that is another one, asks that machine's fleetd (at the API URL it
/// advertises in its machine record), which reads its own systemd and journal.
extension APIRoutes {
    /// Set on a request one fleetd passes on to another, so it is never passed on again.
    static let forwardedHeader = HTTPField.Name(FleetClient.forwardedHeader)!

    func unitStatus(_ raw: String, _ request: Request) async throws -> Response {
        let machine = try await inspectedMachine(raw, request, for: .status)
        if let local = try await localInspector(machine, request, unit: raw) {
            let (exitStatus, text) = try await local.status(of: raw)
            return try json(UnitStatusEntity(name: raw, machineID: machine.id.rawValue, exitStatus: exitStatus, text: text))
        }
        let peer = try peerClient(machine)
        do {
            return try json(try await peer.unitStatus(raw, machineID: machine.id.rawValue, forwarded: true))
        } catch let error as FleetClientError {
            throw Self.peerError(error, machine)
        }
    }

    func unitJournal(_ raw: String, _ request: Request, context: some RequestContext) async throws -> Response {
        // A follower's stream ends when its client goes away (fleetctl interrupted): the reader
        // thread or the upstream request stops instead of waiting for the unit's next line.
        let channel = (context as? any ConnectionAwareContext)?.channel
        let query = request.uri.queryParameters
        let lines = try query.get("lines").map { text -> Int in
            guard let lines = Int(text), lines >= 0 else { throw APIError(.badRequest, "lines must be a number of 0 or more, not \"\(text)\"") }
            return lines
        } ?? 10
        let follow = try query.get("follow").map { text -> Bool in
            switch text {
            case "true", "1": return true
            case "false", "0": return false
            default: throw APIError(.badRequest, "follow must be true or false, not \"\(text)\"")
            }
        } ?? false
        let heartbeat = try query.get("heartbeat").map { text -> Int in
            guard let seconds = Int(text), (0...3600).contains(seconds) else {
                throw APIError(.badRequest, "heartbeat must be a number of seconds from 0 to 3600, not \"\(text)\"")
            }
            return seconds
        } ?? 0
        let output = query.get("output") ?? "short"
        guard JournalRequest.outputs.contains(output) else {
            throw APIError(.badRequest, "unknown output \"\(output)\"; use one of \(JournalRequest.outputs.joined(separator: ", "))")
        }
        let journalRequest = JournalRequest(unit: raw, lines: lines, follow: follow, output: output,
                                            heartbeat: follow ? heartbeat : 0)
        let machine = try await inspectedMachine(raw, request, for: .journal)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        if let local = try await localInspector(machine, request, unit: raw) {
            do { try local.checkJournal() } catch { throw APIError(.internalServerError, "\(error)") }
            let stream = untilDisconnected(local.journal(journalRequest), channel: channel,
                                           heartbeat: journalRequest.heartbeat > 0 ? .seconds(journalRequest.heartbeat) : nil,
                                           marker: JournalRequest.heartbeatLine)
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                do {
                    for try await line in stream { try await writer.write(ByteBuffer(string: line + "\n")) }
                } catch {
                    try await writer.write(ByteBuffer(string: "-- fleetd: reading the journal failed: \(error)\n"))
                }
                try await writer.finish(nil)
            })
        }
        let peer = try peerClient(machine)
        let body: HTTPClientResponseBodyStream
        do {
            body = try await peer.journal(journalRequest, machineID: machine.id.rawValue, forwarded: true)
        } catch let error as FleetClientError {
            throw Self.peerError(error, machine)
        }
        let relayed = untilDisconnected(body, channel: channel)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            for try await chunk in relayed { try await writer.write(chunk) }
            try await writer.finish(nil)
        })
    }

    enum Inspection { case status, journal }

    /// The machine whose fleetd answers: `?machineID=` if given (a live machine), else the
    /// machine the unit runs on. fleet's messages when there is none.
    ///
    /// Only fleet's units are shown: a name that is not in the registry is 404 even with
    /// `?machineID=`, so the API never reads the journal of `sshd.service` or any other unit
    /// of the machine's own.
    func inspectedMachine(_ raw: String, _ request: Request, for inspection: Inspection) async throws -> MachineRecord {
        let machines = try await registry.machines()
        if let id = request.uri.queryParameters.get("machineID") {
            guard let name = try? UnitName(raw), try await registry.unit(name) != nil else {
                throw APIError(.notFound, "unit \(raw) is not a fleet unit; status and journal are shown only for units in the cluster")
            }
            guard let machine = machines.first(where: { $0.id.rawValue == id }) else {
                throw APIError(.notFound, "machine \(id) is not in the cluster")
            }
            return machine
        }
        let unit = try await getUnit(raw)
        if unit.machineID == nil, let options = unit.options,
           XFleetRequirements(unit: try UnitName(raw), file: UnitFile(options: options)).isGlobal {
            throw APIError(.badRequest, inspection == .journal
                ? "Unable to retrieve journal of global unit \(raw)."
                : "Unit \(raw) is global: name one of its machines with machineID.")
        }
        if unit.current == nil || unit.current == .inactive {
            throw APIError(.conflict, "Unit \(raw) does not appear to be loaded.")
        }
        guard let id = unit.machineID else { throw APIError(.conflict, "Unit \(raw) does not appear to be running.") }
        guard let machine = machines.first(where: { $0.id.rawValue == id }) else {
            throw APIError(.serviceUnavailable, "Unit \(raw) is placed on machine \(id), which is not in the cluster now.")
        }
        return machine
    }

    /// This fleetd's own inspector when it runs `machine` (or the request was passed on to it).
    ///
    /// A unit this machine has from outside fleet's directory is the host's, even when a fleet
    /// unit of that name exists (the agent refused to load it): 404, its status and journal stay
    /// private to the machine.
    func localInspector(_ machine: MachineRecord, _ request: Request, unit raw: String) async throws -> (any UnitInspector)? {
        let isLocal = machine.id == configuration.localMachine || request.headers[Self.forwardedHeader] != nil
        guard isLocal else { return nil }
        guard let inspector else {
            throw APIError(.notImplemented, "this fleetd does not run units, so it has no status or journal to show")
        }
        let hostOwned: Bool
        do {
            hostOwned = try await inspector.isHostUnit(raw)
        } catch {
            throw APIError(.internalServerError, "cannot tell whether \(raw) is fleet's unit on this machine: \(error)")
        }
        if hostOwned {
            throw APIError(.notFound, "unit \(raw) on machine \(machine.id.rawValue) is the machine's own, not fleet's; "
                + "its status and journal are not shown")
        }
        return inspector
    }

    /// The peer's own answer (status and message) when it gave one; 502 naming it when it did not.
    static func peerError(_ error: FleetClientError, _ machine: MachineRecord) -> APIError {
        guard let status = error.status else {
            return APIError(.badGateway, "machine \(machine.id.rawValue): \(error.message)")
        }
        return APIError(HTTPResponse.Status(code: status), error.apiMessage)
    }

    func peerClient(_ machine: MachineRecord) throws -> FleetClient {
        guard let url = machine.apiURL, !url.isEmpty else {
            throw APIError(.badGateway, "machine \(machine.id.rawValue) serves no API other fleetds can reach; "
                + "start its fleetd with --api-listen")
        }
        do {
            return try FleetClient(endpoint: url, client: configuration.peerHTTPClient, timeout: .seconds(30))
        } catch {
            throw APIError(.badGateway, "machine \(machine.id.rawValue) advertises a bad API URL \"\(url)\": \(error)")
        }
    }
}
