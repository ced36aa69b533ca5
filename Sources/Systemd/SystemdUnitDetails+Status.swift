import FleetUnit
import Foundation

/// The unit as `systemctl status` prints it (without the journal lines it appends).
extension SystemdUnitDetails {
    /// systemctl's exit status for `status`: 0 active, 3 not active, 4 no such unit.
    public var statusExitCode: Int32 {
        if state.loadState == "not-found" && state.activeState == .inactive { return 4 }
        return state.activeState.isUp ? 0 : 3
    }

    /// - Parameters:
    ///   - now: microseconds since the epoch, for "3min ago".
    ///   - processes: the unit's processes (``ControlGroupProcesses/list(_:)``), PID and command line.
    public func statusText(now: UInt64, processes: [(pid: Int32, command: String)] = []) -> String {
        var lines: [String] = []
        let dot = state.activeState == .failed ? "×" : state.activeState.isRunning ? "●" : "○"
        lines.append("\(dot) \(name)" + (description.isEmpty ? "" : " - \(description)"))
        lines.append(field("Loaded", loadedText))
        lines.append(field("Active", activeText(now: now)))
        if mainPID != 0 {
            let command = processes.first { $0.pid == Int32(bitPattern: mainPID) }
                .map { " (\(Self.executableName($0.command)))" } ?? ""
            lines.append(field("Main PID", "\(mainPID)\(command)"))
        } else if execMainPID != 0, execMainCode != 0 {
            lines.append(field("Main PID", "\(execMainPID) (\(exitText))"))
        }
        if let tasksCurrent {
            lines.append(field("Tasks", "\(tasksCurrent)" + (tasksMax.map { " (limit: \($0))" } ?? "")))
        }
        if let memoryCurrent { lines.append(field("Memory", Self.bytes(memoryCurrent))) }
        if let cpuUsageNanoseconds { lines.append(field("CPU", Self.duration(microseconds: cpuUsageNanoseconds / 1000))) }
        if !controlGroup.isEmpty {
            lines.append(field("CGroup", controlGroup))
            for (index, process) in processes.enumerated() {
                let branch = index == processes.count - 1 ? "└─" : "├─"
                lines.append(String(repeating: " ", count: 13) + "\(branch)\(process.pid) \(process.command)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private func field(_ label: String, _ value: String) -> String {
        String(repeating: " ", count: max(0, 11 - label.count)) + label + ": " + value
    }

    var loadedText: String {
        guard state.loadState == "loaded" else {
            return state.loadState == "not-found" ? "not-found (Reason: Unit \(name) not found.)" : state.loadState
        }
        var details = [fragmentPath.isEmpty ? nil : fragmentPath, unitFileState.isEmpty ? nil : unitFileState]
            .compactMap { $0 }
        if !unitFilePreset.isEmpty { details.append("preset: \(unitFilePreset)") }
        return "loaded" + (details.isEmpty ? "" : " (\(details.joined(separator: "; ")))")
    }

    func activeText(now: UInt64) -> String {
        var text = "\(state.activeState) (\(state.subState))"
        if state.activeState == .failed, !result.isEmpty { text = "failed (Result: \(result))" }
        let since: UInt64
        switch state.activeState {
        case .active, .reloading: since = activeEnterTimestamp
        case .activating: since = inactiveExitTimestamp
        case .deactivating: since = activeExitTimestamp
        default: since = inactiveEnterTimestamp
        }
        guard since > 0 else { return text }
        let ago = now > since ? Self.duration(microseconds: now - since, coarse: true) + " ago" : "now"
        return text + " since \(Self.date(since)); \(ago)"
    }

    /// `code=exited, status=1/FAILURE` or `code=killed, signal=TERM`.
    var exitText: String {
        switch execMainCode {
        case 1: return "code=exited, status=\(execMainStatus)" + (execMainStatus == 0 ? "/SUCCESS" : "/FAILURE")
        case 2: return "code=killed, signal=\(execMainStatus)"
        case 3: return "code=dumped, signal=\(execMainStatus)"
        default: return "code=\(execMainCode), status=\(execMainStatus)"
        }
    }

    /// `Wed 2026-11-25 12:20:01 UTC`, local time as systemctl prints it.
    static func date(_ microseconds: UInt64) -> String {
        var time = time_t(microseconds / 1_000_000)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a %Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `3min 2s`, `1h 5min` (coarse) or `1.234s`, `5ms` (CPU time).
    static func duration(microseconds: UInt64, coarse: Bool = false) -> String {
        let seconds = microseconds / 1_000_000
        if coarse || seconds >= 60 {
            let units: [(String, UInt64)] = [("month", 2_629_800), ("w", 604_800), ("day", 86_400), ("h", 3_600), ("min", 60), ("s", 1)]
            var rest = seconds, parts: [String] = []
            for (label, size) in units where rest >= size && parts.count < 2 {
                let count = rest / size
                parts.append(label == "day" || label == "month" ? "\(count) \(label)\(count == 1 ? "" : "s")" : "\(count)\(label)")
                rest %= size
            }
            return parts.isEmpty ? "\(microseconds / 1000)ms" : parts.joined(separator: " ")
        }
        if seconds >= 1 { return String(format: "%.3fs", Double(microseconds) / 1_000_000) }
        return "\(microseconds / 1000)ms"
    }

    /// `580.0K`, `12.3M`: systemctl's one-decimal binary sizes.
    static func bytes(_ count: UInt64) -> String {
        var value = Double(count)
        for suffix in ["B", "K", "M", "G", "T"] {
            if value < 1024 || suffix == "T" { return suffix == "B" ? "\(count)B" : String(format: "%.1f%@", value, suffix) }
            value /= 1024
        }
        return "\(count)B"
    }

    static func executableName(_ command: String) -> String {
        let first = command.split(separator: " ").first.map(String.init) ?? command
        return (first as NSString).lastPathComponent
    }
}

/// The processes of a unit's control group, from the cgroup filesystem.
public enum ControlGroupProcesses {
    /// PIDs (of the group and its children, sorted) with their command lines. A group that is
    /// gone or unreadable gives an empty list: the status is still worth showing.
    public static func list(_ controlGroup: String, root: String = "/sys/fs/cgroup") -> [(pid: Int32, command: String)] {
        guard !controlGroup.isEmpty else { return [] }
        // Pure cgroup2 hosts mount it at the root; hybrid ones (and the test rig) at unified/.
        let candidates = [root + "/unified" + controlGroup, root + controlGroup, root + "/systemd" + controlGroup]
        guard let directory = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") })
        else { return [] }
        var pids: [Int32] = []
        if let enumerator = FileManager.default.enumerator(atPath: directory) {
            var files = ["cgroup.procs"]
            while let path = enumerator.nextObject() as? String {
                if path.hasSuffix("/cgroup.procs") { files.append(path) }
            }
            for file in files {
                let text = (try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)) ?? ""
                pids += text.split(separator: "\n").compactMap { Int32($0) }
            }
        }
        return Set(pids).sorted().map { ($0, commandLine($0)) }
    }

    static func commandLine(_ pid: Int32) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else {
            return (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }
}
