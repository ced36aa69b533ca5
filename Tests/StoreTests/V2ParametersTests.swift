@testable import FleetStoreHTTP
import Testing

/// Query and form parameters of the keys API: decoded as Go's url.ParseQuery does, with the
/// common case (nothing to decode) taken without Foundation.
@Suite struct V2ParametersTests {
    @Test func encodedAndPlainValuesDecode() {
        let params = V2Parameters(query: "ttl=10&prevExist=false&value=a+b%20c&wait", formBody: "value=second&dir=true")
        #expect(params.string("ttl") == "10")
        #expect(params.string("prevExist") == "false")
        #expect(params.string("value") == "a b c", "plus and percent escapes decode; the query comes first")
        #expect(params.string("wait") == "", "a name without a value")
        #expect(params.string("dir") == "true")
        #expect(V2Parameters.decode("100%") == "100%", "a broken escape is kept as sent")
        #expect(V2Parameters.decode("caf%C3%A9") == "café")
        #expect(V2Parameters.decode("plain-value_1.2") == "plain-value_1.2")
    }
}
