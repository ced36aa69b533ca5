import FleetAPIClient
import FleetRegistry
import FleetStore
import Foundation
import Hummingbird

/// `/fleet/v1/machines`: the live machines, and `PATCH` of their dynamic metadata.
extension APIRoutes {
    func listMachines(_ request: Request) async throws -> Response {
        let token = try pageToken(request)
        let machines = try await registry.machines().map {
            MachineEntity(id: $0.id.rawValue, primaryIP: $0.publicIP.isEmpty ? nil : $0.publicIP,
                          metadata: $0.metadata.isEmpty ? nil : $0.metadata)
        }
        let page = token.page(of: machines)
        return try json(MachinePage(machines: page.items, nextPageToken: page.next))
    }

    /// Applies a JSON array of metadata operations, all validated before any is applied:
    /// `{"op":"add|replace|remove","path":"/<machineID>/metadata/<key>","value":{"value":"<v>"}}`
    /// (`value` may also be a plain string). `remove` writes the empty tombstone.
    func patchMachines(_ request: Request) async throws -> Response {
        let ops = try await Self.decodedBody([MachineMetadataOp].self, of: request, upTo: 1 << 20)
        var writes: [(machine: MachineID, key: String, value: String)] = []
        for op in ops {
            guard ["add", "remove", "replace"].contains(op.op) else {
                throw APIError(.badRequest, "invalid op: expect add, remove, or replace")
            }
            guard let (machine, key) = Self.metadataPath(op.path) else {
                throw APIError(.badRequest, "machine metadata path invalid")
            }
            if op.op == "remove" {
                writes.append((machine, key, ""))
            } else {
                guard let value = op.value?.value, !value.isEmpty else {
                    throw APIError(.badRequest, "invalid value: add and replace require a value")
                }
                writes.append((machine, key, value))
            }
        }
        for write in writes {
            try await registry.setMachineMetadata(write.machine, key: write.key, value: write.value)
        }
        return Response(status: .noContent)
    }

    /// `/<machineID>/metadata/<key>` (fleet's `^/([^/]+)/metadata/([A-Za-z0-9_.-]+)$`), minus the
    /// IDs and keys `.` and `..`, which are no store key segment.
    static func metadataPath(_ path: String) -> (MachineID, String)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, !parts[1].isEmpty, parts[2] == "metadata", !parts[3].isEmpty,
              parts[3].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }),
              ![".", ".."].contains(parts[1]), ![".", ".."].contains(parts[3])
        else { return nil }
        return (MachineID(String(parts[1])), String(parts[3]))
    }
}

/// One operation of a `PATCH /fleet/v1/machines` body.
struct MachineMetadataOp: Decodable {
    /// fleet sends `{"value":"<v>"}`; a bare string is accepted too.
    struct Value: Decodable {
        var value: String?

        /// Anything else (a number, an object without a string `value`) is no value: `remove`
        /// ignores it, `add` and `replace` refuse it with fleet's message.
        init(from decoder: any Decoder) throws {
            enum Keys: String, CodingKey { case value }
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                value = text
            } else {
                value = try? decoder.container(keyedBy: Keys.self).decodeIfPresent(String.self, forKey: .value)
            }
        }
    }

    var op: String
    var path: String
    var value: Value?
}
