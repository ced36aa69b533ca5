/// Where a setting's value came from: shown by `--print-config`, and the start of an error
/// about the value, so a person knows which of flag, environment and file to fix.
enum SettingOrigin: Sendable, Equatable, CustomStringConvertible {
    case flag(String)
    case environment(String)
    case file(path: String, line: Int)
    case defaultValue

    /// `--print-config`'s comment: `flag --agent-ttl`, `env FLEET_AGENT_TTL`, `file /etc/fleet/fleet.conf:4`, `default`.
    var description: String {
        switch self {
        case .flag(let flag): "flag --\(flag)"
        case .environment(let name): "env \(name)"
        case let .file(path, line): "file \(path):\(line)"
        case .defaultValue: "default"
        }
    }

    /// How an error about `key`'s value from here begins: `--agent-ttl`, `FLEET_AGENT_TTL`,
    /// `/etc/fleet/fleet.conf:4: agent_ttl`.
    func subject(_ key: ConfigKey) -> String {
        switch self {
        case .flag(let flag): "--\(flag)"
        case .environment(let name): name
        case let .file(path, line): "\(path):\(line): \(key.name)"
        case .defaultValue: key.name
        }
    }
}

/// A setting's value as text, and where it came from.
struct ResolvedSetting: Sendable, Equatable {
    var text: String
    var origin: SettingOrigin
}
