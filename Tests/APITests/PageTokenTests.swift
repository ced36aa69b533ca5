import Testing
@testable import FleetAPI

@Suite struct PageTokenTests {
    @Test func encodesLikeFleet() {
        #expect(PageToken(limit: 100, page: 2).encoded == "ZAACAA==")
        #expect(PageToken(limit: 100, page: 1).encoded == "ZAABAA==")
        #expect(PageToken(limit: 65535, page: 65535).encoded == "_____w==")
    }

    @Test(arguments: [PageToken(limit: 100, page: 2), PageToken(limit: 1, page: 1), PageToken(limit: 65535, page: 300),
                      PageToken(limit: 19, page: 11852)])
    func roundTrips(token: PageToken) throws {
        #expect(try PageToken.decode(token.encoded) == token)
    }

    @Test func fleetsBadTokenFromItsTestsHasLimit19() throws {
        #expect(try PageToken.decode("EwBMLg==").limit == 19)
        let error = #expect(throws: APIError.self) { try PageToken.from(["EwBMLg=="], limit: 100) }
        #expect(error?.message == "token limit must be 100")
    }

    @Test(arguments: [
        (["a", "b"], "too many values for page token"),
        (["ZAAAAA=="], "token page must be greater than zero"),
        ([""], "EOF"),
        (["ZAA="], "unexpected EOF"),
        (["ZAACAA"], "illegal base64 data at input byte 4"),
        (["ZA+CAA=="], "illegal base64 data at input byte 2"),
        (["ZA==CAA="], "illegal base64 data at input byte 4"),
    ])
    func badTokensGetFleetsMessages(values: [String], message: String) {
        let error = #expect(throws: APIError.self) { try PageToken.from(values, limit: 100) }
        #expect(error?.message == message)
        #expect(error?.status == .badRequest)
    }

    @Test func pagesAreFullOrLastAndOnlyFullOnesHaveANextToken() {
        let items = Array(1...5)
        let first = PageToken(limit: 2, page: 1).page(of: items)
        #expect(first.items == [1, 2] && first.next == PageToken(limit: 2, page: 2).encoded)
        let last = PageToken(limit: 2, page: 3).page(of: items)
        #expect(last.items == [5] && last.next == nil)
        #expect(PageToken(limit: 2, page: 9).page(of: items).items.isEmpty)
        // A full last page still has a token, whose page is then empty (as in fleet).
        #expect(PageToken(limit: 5, page: 1).page(of: items).next != nil)
    }
}
