/// Accepts fleet's command-line habits that swift-argument-parser does not know by itself:
/// global options before the command (`fleetctl --endpoint X list-units`) and commands
/// abbreviated to any unique prefix (`fleetctl list-m`); and refuses an unknown command with
/// a suggestion instead of fleet's silent exit 0.
enum CommandLineRewriter {
    /// Options that take a value and may stand before the command.
    static let globalOptions = GlobalOptions.valueOptions

    static func rewrite(_ arguments: [String], commands: [String]) -> [String] {
        let (globals, rest) = split(goBooleans(arguments))
        guard let command = rest.first else { return globals + rest }
        let resolved = resolve(command, among: commands)
        return [resolved] + globals + rest.dropFirst()
    }

    /// fleet's boolean flags are Go flags: `--debug` alone means `--debug=true`, and a value
    /// is only ever attached with `=`. Rewritten up to a `--`, after which words are the
    /// user's (a remote command).
    static func goBooleans(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var passthrough = false
        for argument in arguments {
            if argument == "--" { passthrough = true }
            result.append(!passthrough && GlobalOptions.booleanOptions.contains(argument) ? argument + "=true" : argument)
        }
        return result
    }

    /// The leading global options (with their values), and what follows them.
    static func split(_ arguments: [String]) -> (globals: [String], rest: ArraySlice<String>) {
        var globals: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("--") {
            let name = String(first.split(separator: "=", maxSplits: 1)[0])
            guard globalOptions.contains(name) else { break }
            globals.append(first)
            rest = rest.dropFirst()
            if !first.contains("="), !GlobalOptions.booleanOptions.contains(name), let value = rest.first {
                globals.append(value)
                rest = rest.dropFirst()
            }
        }
        return (globals, rest)
    }

    /// The command `word` abbreviates, if exactly one starts with it; otherwise `word` unchanged
    /// (the parser then reports the unknown or ambiguous command).
    static func resolve(_ word: String, among commands: [String]) -> String {
        if commands.contains(word) { return word }
        let matches = commands.filter { $0.hasPrefix(word) }
        return matches.count == 1 ? matches[0] : word
    }

    /// fleetctl's message for a (rewritten) command line whose command is unknown or
    /// ambiguous, or nil when the parser may have it.
    static func unknownCommand(_ arguments: [String], commands: [String]) -> String? {
        guard let word = arguments.first, !word.hasPrefix("-"), word != "help", !commands.contains(word) else { return nil }
        let matches = commands.filter { $0.hasPrefix(word) }
        if matches.count > 1 {
            return "Ambiguous command '\(word)': it could be \(matches.map { "'\($0)'" }.joined(separator: ", "))."
        }
        if let suggestion = suggestion(for: word, among: commands) {
            return "Unknown command '\(word)'. Did you mean '\(suggestion)'?"
        }
        return "Unknown command '\(word)'. Run 'fleetctl help' for the list of commands."
    }

    /// The closest command by edit distance, if it is close enough to be a typo.
    static func suggestion(for word: String, among commands: [String]) -> String? {
        let scored = commands.map { ($0, editDistance(word, $0)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best = scored.first, best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
