/// Accepts fleet's command-line habits that swift-argument-parser does not know by itself:
/// global options before the command (`fleetctl --endpoint X list-units`) and commands
/// abbreviated to any unique prefix (`fleetctl list-m`).
enum CommandLineRewriter {
    /// Options that take a value and may stand before the command.
    static let globalOptions = ["--endpoint", "--request-timeout"]

    static func rewrite(_ arguments: [String], commands: [String]) -> [String] {
        var globals: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("--") {
            let name = String(first.split(separator: "=", maxSplits: 1)[0])
            guard globalOptions.contains(name) else { break }
            globals.append(first)
            rest = rest.dropFirst()
            if !first.contains("="), let value = rest.first {
                globals.append(value)
                rest = rest.dropFirst()
            }
        }
        guard let command = rest.first else { return globals + rest }
        let resolved = resolve(command, among: commands)
        return [resolved] + globals + rest.dropFirst()
    }

    /// The command `word` abbreviates, if exactly one starts with it; otherwise `word` unchanged
    /// (the parser then reports the unknown or ambiguous command).
    static func resolve(_ word: String, among commands: [String]) -> String {
        if commands.contains(word) { return word }
        let matches = commands.filter { $0.hasPrefix(word) }
        return matches.count == 1 ? matches[0] : word
    }
}
