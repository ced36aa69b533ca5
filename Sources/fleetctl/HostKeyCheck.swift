import Foundation

/// fleet's strict host key checking for a host fleetctl's known-hosts file does not know yet:
/// show the host's key fingerprints, ask on standard input, and record the keys on `yes`.
///
/// OpenSSH can ask only on a terminal, and `--tunnel` runs it with `BatchMode=yes`, so before
/// this a new host failed with `Host key verification failed` however the user answered
/// (issue 12). fleet asked on standard input, which scripts rely on (`echo yes | fleetctl
/// --tunnel ...`). The check runs before ssh starts; ssh then verifies the recorded key
/// itself, so a key that changes between the scan and the connection is still refused.
struct HostKeyCheck {
    var tools: any HostKeyTools = OpenSSHHostKeyTools()
    /// One line of the answer, nil at the end of input.
    var readAnswer: () -> String? = HostKeyCheck.readLineFromStandardInput
    /// Shows the question and notes (standard error, so standard output stays the command's).
    var say: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }

    /// Unrecognised answers asked again before giving up, so a stream of noise cannot loop.
    static let maxQuestions = 3

    /// The known-hosts name OpenSSH uses: `host`, or `[host]:port` off port 22.
    static func knownHostsName(host: String, port: Int) -> String {
        port == 22 ? host : "[\(host)]:\(port)"
    }

    /// Makes sure `host`'s keys are in `settings.knownHostsFile` before ssh connects.
    ///
    /// Nothing to do when checking is off or the host is known. When the host cannot be
    /// scanned (down, no sshd) nothing is asked: ssh then fails with its own, clearer error.
    /// - Throws: ``SSHError`` when the user answers no or input ends, or the keys cannot be recorded.
    func ensureKnown(host: String, port: Int, settings: SSHSettings) throws {
        guard settings.strictHostKeyChecking else { return }
        let name = Self.knownHostsName(host: host, port: port)
        guard !tools.isKnown(name, in: settings.knownHostsFile) else { return }
        let keys = tools.scan(host: host, port: port, timeout: settings.timeout)
        guard !keys.isEmpty else { return }
        var question = "The authenticity of host '\(name)' can't be established.\n"
        for fingerprint in tools.fingerprints(keys) { question += "\(fingerprint.type) key fingerprint is \(fingerprint.hash).\n" }
        question += "Are you sure you want to continue connecting (yes/no)? "
        say(question)
        guard try confirmed() else {
            throw SSHError("Host key verification failed: the key of \(name) was not accepted")
        }
        settings.prepareKnownHosts()
        do {
            try Self.append(keys, to: settings.knownHostsFile)
        } catch {
            throw SSHError("cannot record the key of \(name) in \(settings.knownHostsFile): \(error)")
        }
        say("Warning: Permanently added '\(name)' to the list of known hosts (\(settings.knownHostsFile)).\n")
    }

    /// True on `yes`, false on `no` or the end of input; other answers are asked again.
    func confirmed() throws -> Bool {
        for _ in 0..<Self.maxQuestions {
            guard let line = readAnswer() else {
                say("\n")
                return false
            }
            switch line.trimmingCharacters(in: .whitespaces).lowercased() {
            case "yes": return true
            case "no": return false
            default: say("Please type 'yes' or 'no': ")
            }
        }
        return false
    }

    /// Appends known-hosts lines, creating the file readable by its owner only.
    static func append(_ lines: [String], to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw SSHError("cannot create the file")
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
    }

    /// Longest answer line read; the rest of a longer line is dropped.
    static let maxAnswerBytes = 256

    /// Reads one line from standard input a byte at a time, so nothing after it is consumed:
    /// `fleetctl ssh` hands the rest of standard input to the remote command.
    static func readLineFromStandardInput() -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            if bytes.count < maxAnswerBytes { bytes.append(byte) }
        }
    }
}

/// One host key's fingerprint as `ssh-keygen -l` shows it.
struct HostKeyFingerprint: Equatable {
    var type: String
    var hash: String
}

/// What ``HostKeyCheck`` needs from OpenSSH's tools; a stand-in in tests.
protocol HostKeyTools {
    /// Whether the known-hosts file has a key for `name`.
    func isKnown(_ name: String, in file: String) -> Bool
    /// The host's keys as known-hosts lines; empty when it cannot be reached.
    func scan(host: String, port: Int, timeout: Double) -> [String]
    /// The fingerprints of known-hosts lines.
    func fingerprints(_ lines: [String]) -> [HostKeyFingerprint]
}
