extension UnitFile {
    /// Parses systemd unit-file text the way fleet does, rejecting what fleet (or systemd) would mangle.
    ///
    /// * `[Section]` headers; anything but blanks after the `]` is an error.
    /// * `Name=Value` lines, name and value trimmed of whitespace; a line without `=` is an error, and so is
    ///   an option before the first header.
    /// * Lines starting with `#` or `;` are comments and are dropped (a comment ending in `\` also swallows
    ///   the next line, as in fleet).
    /// * A value ending in `\` continues on the next line: the backslash becomes a space and the next line
    ///   is appended as it is, even if it looks like a comment (fleet's behaviour: `echo \` + `  hi` reads
    ///   `echo    hi`).
    /// * Unlike fleet, text before the first `[Section]` is an error rather than silently skipped.
    /// * Lines of 2048 bytes or more (without their newline) are rejected; systemd would truncate them.
    ///   `\n` and `\r\n` line ends are both accepted.
    ///
    /// - Throws: ``UnitFileError`` naming the first bad line.
    public init(parsing text: String) throws(UnitFileError) {
        var parser = UnitFileParser()
        for (offset, line) in Self.physicalLines(of: text).enumerated() {
            try parser.consume(line, number: offset + 1)
        }
        try parser.finish()
        self.init(options: parser.options)
    }

    /// Splits on LF bytes, dropping one CR before each LF; a final LF does not start another line.
    /// A leading byte-order mark is dropped (fleet skipped it too).
    /// (Split on scalars: as Characters, `\r\n` is one grapheme and would hide the `\n`.)
    private static func physicalLines(of text: String) -> [Substring] {
        var scalars = Substring(text).unicodeScalars
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        guard !scalars.isEmpty else { return [] }
        var lines = scalars.split(separator: "\n", omittingEmptySubsequences: false)
        if scalars.last == "\n" { lines.removeLast() }
        return lines.map { Substring($0) }
    }
}

/// The line-by-line state machine behind ``UnitFile/init(parsing:)``.
private struct UnitFileParser {
    /// An option whose value is still being continued with `\`.
    private struct Pending {
        var section: String
        var name: String
        var value: String
        var line: Int
    }

    private(set) var options: [UnitOption] = []
    private var section: String?
    private var pending: Pending?
    private var inContinuedComment = false

    mutating func consume(_ physical: Substring, number: Int) throws(UnitFileError) {
        let line = Self.droppingCarriageReturn(physical)
        let length = line.utf8.count
        guard length < UnitFile.maximumLineLength else {
            throw .lineTooLong(line: number, bytes: length + 1)
        }
        if var continued = pending {
            if let piece = Self.continuationPiece(line) {
                continued.value += piece
                pending = continued
            } else {
                continued.value += line
                pending = nil
                try emit(continued)
            }
            return
        }
        if inContinuedComment {
            inContinuedComment = Self.continuationPiece(line) != nil
            return
        }
        let content = Self.trimmingLeadingWhitespace(line)
        switch content.unicodeScalars.first {
        case nil:
            return
        case "#"?, ";"?:
            inContinuedComment = Self.continuationPiece(content) != nil
        case "["?:
            section = try Self.sectionName(in: content, line: number)
        default:
            try startOption(content, line: number)
        }
    }

    /// Ends the text: an option still being continued ends here.
    mutating func finish() throws(UnitFileError) {
        if let continued = pending {
            pending = nil
            try emit(continued)
        }
    }

    private mutating func startOption(_ content: Substring, line: Int) throws(UnitFileError) {
        let scalars = content.unicodeScalars
        guard let equals = scalars.firstIndex(of: "=") else {
            throw .malformedLine(line: line, text: String(content))
        }
        let name = Self.trimmingWhitespace(Substring(scalars[..<equals]))
        guard let section else { throw .optionBeforeSection(line: line, name: name) }
        let rest = Substring(scalars[scalars.index(after: equals)...])
        if let piece = Self.continuationPiece(rest) {
            pending = Pending(section: section, name: name, value: piece, line: line)
        } else {
            try emit(Pending(section: section, name: name, value: String(rest), line: line))
        }
    }

    private mutating func emit(_ option: Pending) throws(UnitFileError) {
        let value = Self.trimmingWhitespace(Substring(option.value))
        if value.unicodeScalars.last == "\\" {
            throw .danglingBackslash(line: option.line, name: option.name)
        }
        // Joined continuation lines can exceed LINE_MAX once written back as one line; fleet's API
        // rejects that when it re-parses, so reject it here, where the user can still see the lines.
        let length = option.name.utf8.count + 1 + value.utf8.count
        if length >= UnitFile.maximumLineLength {
            throw .optionTooLong(line: option.line, name: option.name, bytes: length + 1)
        }
        options.append(UnitOption(section: option.section, name: option.name, value: value))
    }

    /// `[Name]` → `Name`; rejects a missing `]` and text after it.
    private static func sectionName(in content: Substring, line: Int) throws(UnitFileError) -> String {
        let scalars = content.unicodeScalars
        guard let close = scalars.firstIndex(of: "]") else {
            throw .unterminatedSection(line: line, text: String(content))
        }
        let name = String(scalars[scalars.index(after: scalars.startIndex)..<close])
        let after = trimmingWhitespace(Substring(scalars[scalars.index(after: close)...]))
        guard after.isEmpty else {
            throw .textAfterSection(line: line, section: name, text: after)
        }
        return name
    }

    /// For a line ending in `\` (trailing blanks ignored): the text before the backslash plus the space
    /// that replaces it; `nil` when the line does not continue.
    private static func continuationPiece(_ line: Substring) -> String? {
        let scalars = line.unicodeScalars
        guard let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }), scalars[last] == "\\" else {
            return nil
        }
        return String(scalars[..<last]) + " "
    }

    private static func droppingCarriageReturn(_ line: Substring) -> Substring {
        line.utf8.last == UInt8(ascii: "\r") ? Substring(line.unicodeScalars.dropLast()) : line
    }

    /// Whitespace as Go's `unicode.IsSpace` (the Unicode White_Space property) sees it.
    private static func trimmingLeadingWhitespace(_ text: Substring) -> Substring {
        Substring(text.unicodeScalars.drop { $0.properties.isWhitespace })
    }

    private static func trimmingWhitespace(_ text: Substring) -> String {
        let scalars = text.unicodeScalars.drop { $0.properties.isWhitespace }
        guard let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[...last])
    }
}
