import Foundation

/// The real `dig` (dnsutils), run against a test server, with its output picked apart.
struct Dig {
    struct Answer {
        var status: String
        var flags: Set<String>
        var answers: [[String]]
        var additional: [[String]]

        /// The data fields (after name, TTL, class, type) of answers of `type`.
        func data(_ type: String) -> [String] {
            answers.filter { $0.count > 4 && $0[3] == type }.map { $0[4...].joined(separator: " ") }
        }
    }

    static let path = "/usr/bin/dig"
    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

    let port: Int

    func callAsFunction(_ arguments: String...) async throws -> Answer {
        // UDP may drop a datagram when the whole suite runs in parallel; a resolver retries, so dig does too.
        let output = try await Self.run(["@127.0.0.1", "-p", String(port), "+time=2", "+tries=3"] + arguments)
        return Self.parse(output)
    }

    static func parse(_ output: String) -> Answer {
        var answer = Answer(status: "", flags: [], answers: [], additional: [])
        var section = ""
        for line in output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if let range = line.range(of: "status: ") {
                answer.status = String(line[range.upperBound...].prefix { $0 != "," })
            } else if line.hasPrefix(";; flags:") {
                let flags = line.dropFirst(";; flags:".count).prefix { $0 != ";" }
                answer.flags = Set(flags.split(separator: " ").map(String.init))
            } else if line.hasPrefix(";; ") && line.hasSuffix("SECTION:") {
                section = line
            } else if !line.hasPrefix(";") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                if section.contains("ANSWER") { answer.answers.append(fields) }
                if section.contains("ADDITIONAL") { answer.additional.append(fields) }
            }
        }
        return answer
    }

    static func run(_ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        // Collect output as it comes so a large answer cannot fill the pipe and stall dig.
        let output = OutputBox()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        pipe.fileHandleForReading.readabilityHandler = nil
        output.append(pipe.fileHandleForReading.readDataToEndOfFile())
        return output.text
    }
}

private final class OutputBox: @unchecked Sendable {
    // Unchecked: appended from the pipe's handler queue, read after the process has exited
    // and the handler is removed; the lock covers the overlap.
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) {
        lock.lock()
        data.append(more)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
