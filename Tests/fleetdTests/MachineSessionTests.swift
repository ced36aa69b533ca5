import Foundation
import Logging
import Testing
@testable import fleetd

/// The presence session kept in the data directory: reused in the same boot, and a file that is
/// not one fleetd wrote (too long, wrong shape) is replaced without being read in full.
@Suite struct MachineSessionTests {
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-session-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func theTokenIsKeptAcrossRestartsInOneBoot() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = MachineSession.token(dataDirectory: dir, logger: quiet)
        #expect(first.count == 32)
        #expect(MachineSession.token(dataDirectory: dir, logger: quiet) == first)
    }

    @Test func anOversizedOrForeignFileIsReplaced() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + MachineSession.fileName
        // 4 MiB of a valid-looking line repeated: never a session, and not read whole.
        let line = "\(MachineSession.bootID()) \(String(repeating: "a", count: 32))\n"
        try Data(String(repeating: line, count: 4 << 20 / line.utf8.count).utf8).write(to: URL(fileURLWithPath: path))
        #expect(MachineSession.read(path) == nil)
        #expect(MachineSession.prefix(of: path, limit: MachineSession.maxFileBytes) == nil)
        let token = MachineSession.token(dataDirectory: dir, logger: quiet)
        #expect(MachineSession.read(path)?.token == token, "a fresh session file was written")
        try Data("not a session\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(MachineSession.read(path) == nil)
    }

    @Test func aMissingFileReadsAsNone() {
        #expect(MachineSession.prefix(of: "/nonexistent/fleet-session", limit: 10) == nil)
        #expect(MachineSession.read("/nonexistent/fleet-session") == nil)
    }
}
