/// Go's `%q` formatting, so that error texts match fleet's byte for byte.
///
/// fleet builds messages such as `invalid unit type: "srvice"` and `invalid character '$' in unit name`
/// with Go's `%q`; users and scripts match on those texts, so we quote the same way: printable characters
/// as they are, the quote character and backslash escaped, everything else as `\n`, `\x1b`, `\u00a0` or
/// `\U0001f600` escapes.
enum GoQuoting {
    /// `%q` of a string: double-quoted.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            appendEscaped(scalar, quote: "\"", to: &out)
        }
        out += "\""
        return out
    }

    /// `%q` of a single rune: single-quoted.
    static func quoted(_ scalar: Unicode.Scalar) -> String {
        var out = "'"
        appendEscaped(scalar, quote: "'", to: &out)
        out += "'"
        return out
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, quote: Unicode.Scalar, to out: inout String) {
        if scalar == quote || scalar == "\\" {
            out += "\\"
            out.unicodeScalars.append(scalar)
            return
        }
        if isPrintable(scalar) {
            out.unicodeScalars.append(scalar)
            return
        }
        switch scalar {
        case "\u{07}": out += "\\a"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{0B}": out += "\\v"
        default:
            let value = scalar.value
            if value < 0x20 || value == 0x7F {
                out += "\\x" + hex(value, digits: 2)
            } else if value < 0x10000 {
                out += "\\u" + hex(value, digits: 4)
            } else {
                out += "\\U" + hex(value, digits: 8)
            }
        }
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x20 { return false }
        if value < 0x7F { return true }
        if value < 0xA1 { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark,
            .decimalNumber, .letterNumber, .otherNumber,
            .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation,
            .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
