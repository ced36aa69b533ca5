import Testing

@testable import FleetUnit

@Suite("Go %q quoting")
struct GoQuotingTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("a\"b", #""a\"b""#),
        ("a\\b", #""a\\b""#),
        ("it's", #""it's""#),
        ("\u{7}\u{8}\u{C}\n\r\t\u{B}", #""\a\b\f\n\r\t\v""#),
        ("\u{1B}[0m", #""\x1b[0m""#),
        ("caf\u{E9} \u{263A}", "\"caf\u{E9} \u{263A}\""),
        ("\u{AD}\u{200B}\u{FEFF}", #""\u00ad\u200b\ufeff""#),
        ("\u{10FFFF}", #""\U0010ffff""#),
    ])
    func quotesStringsLikeGo(_ text: String, _ expected: String) {
        #expect(GoQuoting.quoted(text) == expected)
    }

    @Test(arguments: [("a", "'a'"), ("'", #"'\''"#), ("\"", #"'"'"#), ("\\", #"'\\'"#), ("\t", #"'\t'"#)])
    func quotesRunesLikeGo(_ scalar: Unicode.Scalar, _ expected: String) {
        #expect(GoQuoting.quoted(scalar) == expected)
    }
}
