import Foundation
import Testing

/// Drives `scripts/etcd-cluster` (the one that started the test cluster) from a test.
enum EtcdClusterControl {
    /// Runs the script with `arguments` and returns what it printed; fails the test on a non-zero exit.
    @discardableResult
    static func run(_ arguments: String...) async throws -> String {
        let process = Process()
        process.executableURL = EtcdTestEnvironment.clusterScript
        process.arguments = arguments
        // Output goes to a file, read once the script has exited: a pipe would be read with a
        // blocking call, and would never reach EOF if anything the script started kept it open.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-cluster-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try handle.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw ClusterScriptError(arguments: arguments, status: process.terminationStatus, output: text)
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The member number (1-based, as the script counts) that is the raft leader now.
    static func leader() async throws -> Int {
        let text = try await run("leader")
        guard let member = Int(text) else { throw ClusterScriptError(arguments: ["leader"], status: 0, output: text) }
        return member
    }

    /// The cluster's endpoints with member `first` moved to the front, so a store built on them
    /// starts out talking to that member.
    static func endpoints(startingWith first: Int) -> [String] {
        var endpoints = EtcdTestEnvironment.endpoints ?? []
        let chosen = endpoints.remove(at: first - 1)
        return [chosen] + endpoints
    }

    struct ClusterScriptError: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var output: String
        var description: String { "etcd-cluster \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }
}
