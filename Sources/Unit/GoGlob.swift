/// Go's `path.Match`, which fleet uses for `Conflicts=` and `Replaces=` globs.
///
/// Re-implemented rather than approximated because users' globs were written against its exact rules:
/// `*` matches any run of characters except `/`, `?` one character except `/`, `[...]` a class with
/// ranges (`a-z`), negation only by `^`, and `\` escaping the next character. The pattern is taken chunk
/// by chunk (a chunk being the text between stars), each placed at its leftmost possible position, as
/// Go does. A malformed pattern (unclosed `[`, trailing `\`, empty class, `-` or `]` in the wrong
/// place) never matches, since fleet ignored Go's error and treated it as "no match".
enum GoGlob {
    /// Whether `name` matches `pattern`.
    static func matches(_ pattern: String, _ name: String) -> Bool {
        let pattern = Array(pattern.unicodeScalars)
        let name = Array(name.unicodeScalars)
        var patternIndex = 0
        var nameIndex = 0
        nextChunk: while patternIndex < pattern.count {
            let (star, chunk, next) = scanChunk(pattern, from: patternIndex)
            patternIndex = next
            let isLast = patternIndex == pattern.count
            if star && chunk.isEmpty {
                // A trailing star takes the rest of the name, unless that would cross a '/'.
                return !name[nameIndex...].contains("/")
            }
            switch matchChunk(chunk, name, from: nameIndex) {
            case .matched(let rest) where rest == name.count || !isLast:
                nameIndex = rest
                continue nextChunk
            case .malformed:
                return false
            default:
                break
            }
            guard star else { return false }
            // The star may swallow characters before the chunk, but never a '/'.
            var skip = nameIndex
            while skip < name.count && name[skip] != "/" {
                switch matchChunk(chunk, name, from: skip + 1) {
                case .matched(let rest) where rest == name.count || !isLast:
                    nameIndex = rest
                    continue nextChunk
                case .malformed:
                    return false
                default:
                    skip += 1
                }
            }
            return false
        }
        return nameIndex == name.count
    }

    private enum ChunkResult {
        /// The chunk matched; the name continues at this index.
        case matched(Int)
        case failed
        case malformed
    }

    /// Skips leading stars, then takes everything up to the next star outside a `[...]` class.
    private static func scanChunk(
        _ pattern: [Unicode.Scalar], from start: Int
    ) -> (star: Bool, chunk: ArraySlice<Unicode.Scalar>, next: Int) {
        var index = start
        var star = false
        while index < pattern.count && pattern[index] == "*" {
            index += 1
            star = true
        }
        let chunkStart = index
        var inClass = false
        scan: while index < pattern.count {
            switch pattern[index] {
            case "\\" where index + 1 < pattern.count:
                index += 1
            case "[":
                inClass = true
            case "]":
                inClass = false
            case "*" where !inClass:
                break scan
            default:
                break
            }
            index += 1
        }
        return (star, pattern[chunkStart..<index], index)
    }

    /// Matches one star-free chunk at the start of `name[from...]`.
    ///
    /// After a mismatch the rest of the chunk is still parsed, so that a malformed pattern is reported as
    /// such rather than as a plain failure.
    private static func matchChunk(
        _ chunk: ArraySlice<Unicode.Scalar>, _ name: [Unicode.Scalar], from start: Int
    ) -> ChunkResult {
        var position = chunk.startIndex
        var nameIndex = start
        var failed = false
        while position < chunk.endIndex {
            if !failed && nameIndex == name.count { failed = true }
            switch chunk[position] {
            case "[":
                let character: Unicode.Scalar? = failed ? nil : name[nameIndex]
                if !failed { nameIndex += 1 }
                guard case let (isMember, after)? = matchClass(chunk, from: position + 1, character) else {
                    return .malformed
                }
                position = after
                if !isMember { failed = true }
            case "?":
                if !failed {
                    if name[nameIndex] == "/" { failed = true }
                    nameIndex += 1
                }
                position += 1
            default:
                if chunk[position] == "\\" {
                    position += 1
                    guard position < chunk.endIndex else { return .malformed }
                }
                if !failed {
                    if chunk[position] != name[nameIndex] { failed = true }
                    nameIndex += 1
                }
                position += 1
            }
        }
        return failed ? .failed : .matched(nameIndex)
    }

    /// Parses a class body after `[` and tells whether `character` belongs to it.
    ///
    /// - Returns: membership (false when `character` is `nil`) and the index after `]`; `nil` if malformed.
    private static func matchClass(
        _ chunk: ArraySlice<Unicode.Scalar>, from start: Int, _ character: Unicode.Scalar?
    ) -> (Bool, Int)? {
        var position = start
        var negated = false
        if position < chunk.endIndex && chunk[position] == "^" {
            negated = true
            position += 1
        }
        var found = false
        var ranges = 0
        while true {
            if position < chunk.endIndex && chunk[position] == "]" && ranges > 0 {
                position += 1
                break
            }
            guard case let (low, afterLow)? = classCharacter(chunk, at: position) else { return nil }
            position = afterLow
            var high = low
            if chunk[position] == "-" {
                guard case let (upper, afterHigh)? = classCharacter(chunk, at: position + 1) else { return nil }
                high = upper
                position = afterHigh
            }
            if let character, low.value <= character.value && character.value <= high.value { found = true }
            ranges += 1
        }
        guard character != nil else { return (false, position) }
        return (found != negated, position)
    }

    /// One possibly escaped class character; `nil` when it is missing, `-` or `]`, or ends the pattern.
    private static func classCharacter(_ chunk: ArraySlice<Unicode.Scalar>, at start: Int) -> (Unicode.Scalar, Int)? {
        var position = start
        guard position < chunk.endIndex, chunk[position] != "-", chunk[position] != "]" else { return nil }
        if chunk[position] == "\\" {
            position += 1
            guard position < chunk.endIndex else { return nil }
        }
        let character = chunk[position]
        position += 1
        // Go requires more pattern after a class character: at least the closing "]".
        guard position < chunk.endIndex else { return nil }
        return (character, position)
    }
}
