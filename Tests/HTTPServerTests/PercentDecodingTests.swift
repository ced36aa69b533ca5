import FleetHTTPServer
import Foundation
import Testing

/// `PercentDecoding` replaces Foundation's `removingPercentEncoding` on the keys API's paths and
/// query values: it must answer as Foundation did, malformed input included, with one difference
/// on purpose: Foundation turns a lone UTF-8 continuation byte (`%80`-`%BF`) into U+FFFD but
/// refuses every other invalid sequence (`%C3`, `%FF`); we refuse them all alike.
@Suite struct PercentDecodingTests {
    @Test(arguments: ["", "plain", "/v2/keys/fleet/machines", "a%20b", "%2Fkeys%2f", "%", "%4", "%zz", "100%",
                      "%C3%A9t%C3%A9", "%C3", "%FF%FE", "%E9", "%ED%A0%80", "%C0%80", "caf%C3%A9+bar", "%00", "%25", "ü%41", "+"])
    func matchesFoundation(_ text: String) {
        #expect(PercentDecoding.decode(text) == text.removingPercentEncoding, "\(text)")
    }

    @Test func aLoneContinuationByteIsRefusedLikeAnyInvalidUTF8() {
        #expect("a%A97".removingPercentEncoding == "a\u{FFFD}7", "Foundation's quirk, as documented above")
        #expect(PercentDecoding.decode("a%A97") == nil)
    }

    @Test func aFormValueTakesPlusForASpaceButNotAnEncodedPlus() {
        #expect(PercentDecoding.decode("a+b%2Bc", plusAsSpace: true) == "a b+c")
        #expect(PercentDecoding.decode("a+b", plusAsSpace: false) == "a+b")
    }

    /// Query values are substrings of the request's string: decoded in place, as a copy would be.
    @Test func aSubstringDecodesAsItsCopy() {
        let form = "value=%7B%22name%22%3A%22a+b%22%7D&ttl=10&prevExist=false&bad=%zz"
        for pair in form.split(separator: "&") {
            let value = pair.split(separator: "=", maxSplits: 1)[1]
            #expect(PercentDecoding.decode(value, plusAsSpace: true) == PercentDecoding.decode(String(value), plusAsSpace: true))
        }
        #expect(PercentDecoding.decode(form.split(separator: "&")[0].dropFirst(6), plusAsSpace: true) == #"{"name":"a b"}"#)
        #expect(PercentDecoding.decode(form.split(separator: "&")[3].dropFirst(4)) == nil)
    }

    /// Random strings over the characters that matter (hex digits, `%`, `+`, multi-byte UTF-8).
    @Test func matchesFoundationOnRandomInput() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("%%%+0123456789abcdefABCDEFgz/é€ \u{0}")
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...12, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            var expected = text.removingPercentEncoding
            if let repaired = expected, repaired.contains("\u{FFFD}") { expected = nil }
            let got = PercentDecoding.decode(text)
            #expect(got == expected, "\(text.debugDescription): \(String(describing: got)) against Foundation's \(String(describing: expected))")
            if got != expected { return }
        }
    }
}
