import Foundation
import Logging

/// The session token fleetd puts in its presence record (`MachineRecord.session`), so that a
/// second machine started with this machine's ID is refused (`PresenceClaim`).
///
/// The token must survive a restart of fleetd (`kill -9`, a crash, an upgrade), which has to take
/// its own presence over at once, and must differ on any other machine, even one cloned with this
/// one's disk. So it is kept in the data directory (`session`) together with the boot ID it was
/// made in: the same boot reuses it; a new boot, or a copy of the directory on another machine
/// (which has its own boot ID), makes a new one. Simulated machines on one kernel share the boot
/// ID but not the data directory. If the file cannot be written, the token lives for this
/// process only, and a restart waits out one TTL before taking the presence over.
enum MachineSession {
    static let fileName = "session"
    /// Longer than any file fleetd writes here; a longer file is not ours and is replaced.
    static let maxFileBytes = 256

    static func token(dataDirectory: String, logger: Logger) -> String {
        let path = dataDirectory + "/" + fileName
        let boot = bootID()
        if let kept = read(path), kept.boot == boot { return kept.token }
        let token = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            try Data("\(boot) \(token)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.warning("cannot keep the presence session in the data directory; a restart will wait one TTL",
                           metadata: ["fleetd.session_file": "\(path)", "error": "\(error)"])
        }
        return token
    }

    /// The kernel's ID of this boot (empty where there is none).
    static func bootID() -> String {
        guard let data = prefix(of: "/proc/sys/kernel/random/boot_id", limit: 64) else { return "" }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The boot ID and token in `path`, if it holds exactly those (two short hex words).
    static func read(_ path: String) -> (boot: String, token: String)? {
        guard let data = prefix(of: path, limit: maxFileBytes) else { return nil }
        let words = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
        guard words.count == 2, let token = words.last, token.count == 32, token.allSatisfy(\.isHexDigit) else { return nil }
        return (words[0], token)
    }

    /// The file's contents if it holds at most `limit` bytes; nil when longer or unreadable.
    /// Reads at most one byte past the limit, so a huge file put in its place costs nothing.
    static func prefix(of path: String, limit: Int) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: limit + 1) ?? Data(), data.count <= limit else { return nil }
        return data
    }
}
