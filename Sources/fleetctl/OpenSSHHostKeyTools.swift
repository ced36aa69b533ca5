import Foundation

/// ``HostKeyTools`` with OpenSSH's own programs: `ssh-keygen -F` (is a host known),
/// `ssh-keyscan` (a host's keys), `ssh-keygen -l` (fingerprints). Their output is bounded.
struct OpenSSHHostKeyTools: HostKeyTools {
    /// Most bytes read from one tool, and most keys taken from a scan: a host offers a handful.
    static let maxOutputBytes = 64 * 1024
    static let maxKeys = 16

    func isKnown(_ name: String, in file: String) -> Bool {
        guard FileManager.default.fileExists(atPath: file) else { return false }
        return Self.run("ssh-keygen", ["-F", name, "-f", file])?.status == 0
    }

    func scan(host: String, port: Int, timeout: Double) -> [String] {
        let seconds = String(max(1, Int(min(timeout, 3600).rounded(.up))))
        guard let result = Self.run("ssh-keyscan", ["-T", seconds, "-p", String(port), host]) else { return [] }
        return Self.keyLines(result.output)
    }

    func fingerprints(_ lines: [String]) -> [HostKeyFingerprint] {
        guard let result = Self.run("ssh-keygen", ["-l", "-f", "-"], input: lines.map { $0 + "\n" }.joined()),
              result.status == 0 else { return [] }
        return Self.fingerprints(in: result.output)
    }

    /// The known-hosts lines of `ssh-keyscan` output (`host type key`), comments dropped.
    static func keyLines(_ output: String) -> [String] {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && $0.split(separator: " ").count >= 3 }
        return Array(lines.prefix(maxKeys))
    }

    /// Parses `ssh-keygen -l` lines: `256 SHA256:abc… 10.0.0.3 (ED25519)`.
    static func fingerprints(in output: String) -> [HostKeyFingerprint] {
        output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 3, let last = words.last, last.hasPrefix("("), last.hasSuffix(")") else { return nil }
            return HostKeyFingerprint(type: String(last.dropFirst().dropLast()), hash: String(words[1]))
        }
    }

    /// Runs an OpenSSH tool found on PATH; nil when it is missing or cannot start.
    static func run(_ tool: String, _ arguments: [String], input: String? = nil) -> (status: Int32, output: String)? {
        guard let path = SSHSettings.executable(tool) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        do { try process.run() } catch { return nil }
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inputPipe.fileHandleForWriting.close()
        }
        var data = Data()
        while true {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            if data.count < maxOutputBytes { data.append(chunk.prefix(maxOutputBytes - data.count)) }
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
