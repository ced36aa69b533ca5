import Foundation
import Testing
@testable import fleetctl

/// Issue 12: a new host is asked about on standard input (for `ssh` and `--tunnel`), recorded
/// on `yes`, refused cleanly on `no` or at the end of input. Before, `--tunnel` ran ssh in batch
/// mode and failed with `Host key verification failed` whatever the answer.
@Suite struct HostKeyCheckTests {
    final class FakeTools: HostKeyTools, @unchecked Sendable {
        var known: Set<String> = []
        var scans: [String] = []
        let keys = ["10.0.0.3 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey"]
        func isKnown(_ name: String, in file: String) -> Bool { known.contains(name) }
        func scan(host: String, port: Int, timeout: Double) -> [String] {
            scans.append("\(host):\(port)")
            return host == "down" ? [] : keys
        }
        func fingerprints(_ lines: [String]) -> [HostKeyFingerprint] {
            lines.map { _ in HostKeyFingerprint(type: "ED25519", hash: "SHA256:fake") }
        }
    }

    final class Transcript: @unchecked Sendable {
        var answers: [String]
        var said = ""
        init(_ answers: [String]) { self.answers = answers }
        func next() -> String? { answers.isEmpty ? nil : answers.removeFirst() }
    }

    func settings(strict: Bool = true) -> SSHSettings {
        let directory = NSTemporaryDirectory() + "hostkeys-\(UUID().uuidString)"
        return SSHSettings(username: "core", timeout: 2, strictHostKeyChecking: strict, knownHostsFile: directory + "/known_hosts")
    }

    func check(_ tools: FakeTools, _ transcript: Transcript) -> HostKeyCheck {
        HostKeyCheck(tools: tools, readAnswer: transcript.next, say: { transcript.said += $0 })
    }

    @Test func yesRecordsTheKeysInTheKnownHostsFile() throws {
        let tools = FakeTools(), transcript = Transcript(["yes"]), settings = settings()
        try check(tools, transcript).ensureKnown(host: "10.0.0.3", port: 22, settings: settings)
        #expect(transcript.said.contains("The authenticity of host '10.0.0.3' can't be established."))
        #expect(transcript.said.contains("ED25519 key fingerprint is SHA256:fake."))
        #expect(transcript.said.contains("Are you sure you want to continue connecting (yes/no)? "))
        let recorded = try String(contentsOfFile: settings.knownHostsFile, encoding: .utf8)
        #expect(recorded == tools.keys[0] + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: settings.knownHostsFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test(arguments: [["no"], [], ["maybe", "nope", "later"]])
    func anythingButYesRefusesCleanlyAndRecordsNothing(answers: [String]) throws {
        let tools = FakeTools(), transcript = Transcript(answers), settings = settings()
        let error = #expect(throws: SSHError.self) {
            try check(tools, transcript).ensureKnown(host: "10.0.0.3", port: 2222, settings: settings)
        }
        #expect(error?.description == "Host key verification failed: the key of [10.0.0.3]:2222 was not accepted")
        #expect(!FileManager.default.fileExists(atPath: settings.knownHostsFile))
    }

    @Test func aKnownHostIsNotAskedAboutNorScanned() throws {
        let tools = FakeTools(), transcript = Transcript([])
        tools.known = ["[10.0.0.3]:2222"]
        try check(tools, transcript).ensureKnown(host: "10.0.0.3", port: 2222, settings: settings())
        #expect(tools.scans.isEmpty)
        #expect(transcript.said.isEmpty)
    }

    @Test func noCheckingOrAnUnreachableHostAsksNothing() throws {
        let tools = FakeTools(), transcript = Transcript([])
        try check(tools, transcript).ensureKnown(host: "10.0.0.3", port: 22, settings: settings(strict: false))
        #expect(tools.scans.isEmpty)
        try check(tools, transcript).ensureKnown(host: "down", port: 22, settings: settings())
        #expect(transcript.said.isEmpty)
    }

    @Test func opensshOutputIsParsed() {
        let scan = "# 10.0.0.3:22 SSH-2.0-OpenSSH_9.2\n10.0.0.3 ssh-ed25519 AAAA\n\n[h]:2222 ssh-rsa BBBB\n"
        #expect(OpenSSHHostKeyTools.keyLines(scan) == ["10.0.0.3 ssh-ed25519 AAAA", "[h]:2222 ssh-rsa BBBB"])
        let prints = "256 SHA256:abc 10.0.0.3 (ED25519)\n3072 SHA256:def [h]:2222 (RSA)\ngarbage\n"
        #expect(OpenSSHHostKeyTools.fingerprints(in: prints) == [
            HostKeyFingerprint(type: "ED25519", hash: "SHA256:abc"), HostKeyFingerprint(type: "RSA", hash: "SHA256:def"),
        ])
    }

    /// The real tools against a real known-hosts file: `ssh-keygen -F` finds what was recorded.
    @Test func sshKeygenFindsARecordedHost() throws {
        let settings = settings()
        settings.prepareKnownHosts()
        let tools = OpenSSHHostKeyTools()
        #expect(!tools.isKnown("10.9.9.9", in: settings.knownHostsFile))
        let key = "10.9.9.9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        try HostKeyCheck.append([key], to: settings.knownHostsFile)
        #expect(tools.isKnown("10.9.9.9", in: settings.knownHostsFile))
        #expect(!tools.isKnown("[10.9.9.9]:2222", in: settings.knownHostsFile))
    }
}
