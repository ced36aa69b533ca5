/// fleet's API page token: base64url (with padding) of four bytes, the little-endian `uint16`
/// page size and the little-endian `uint16` page number (from 1). Limit 100, page 2 is `ZAACAA==`.
///
/// The server has one page size (fleetd's `--token-limit`, default 100); a token carrying
/// another is refused, as fleet does. A request may name its own with `pageSize` (ours, which
/// fleet ignores); its tokens then carry that size, and the pages that follow must name it too.
/// Every page reads the whole registry, so a client that walks 4,000 units in pages of 100 reads
/// it 41 times; fleetctl asks for one page of everything.
struct PageToken: Equatable, Sendable {
    var limit: UInt16
    var page: UInt16

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    var next: PageToken { PageToken(limit: limit, page: page &+ 1) }

    var encoded: String {
        let bytes = [UInt8(limit & 0xff), UInt8(limit >> 8), UInt8(page & 0xff), UInt8(page >> 8)]
        // 4 bytes: one full 3-byte group and one byte, padded with "==".
        let a = Self.alphabet
        let b0 = UInt32(bytes[0]), b1 = UInt32(bytes[1]), b2 = UInt32(bytes[2]), b3 = UInt32(bytes[3])
        let group = b0 << 16 | b1 << 8 | b2
        let chars = [a[Int(group >> 18 & 63)], a[Int(group >> 12 & 63)], a[Int(group >> 6 & 63)], a[Int(group & 63)],
                     a[Int(b3 >> 2)], a[Int((b3 & 3) << 4)], UInt8(ascii: "="), UInt8(ascii: "=")]
        return String(decoding: chars, as: UTF8.self)
    }

    /// Decodes a token as fleet does (Go's `base64.URLEncoding`, then `binary.Read`).
    /// - Throws: ``APIError`` 400 with Go's wording for undecodable text or too few bytes.
    static func decode(_ text: String) throws(APIError) -> PageToken {
        let bytes = try base64URLDecode(text)
        guard bytes.count >= 4 else { throw APIError(.badRequest, bytes.isEmpty ? "EOF" : "unexpected EOF") }
        return PageToken(limit: UInt16(bytes[0]) | UInt16(bytes[1]) << 8, page: UInt16(bytes[2]) | UInt16(bytes[3]) << 8)
    }

    static func base64URLDecode(_ text: String) throws(APIError) -> [UInt8] {
        let input = Array(text.utf8)
        var values: [UInt8] = []
        var padding = 0
        for (i, c) in input.enumerated() {
            if c == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0, let v = alphabet.firstIndex(of: c) else {
                throw APIError(.badRequest, "illegal base64 data at input byte \(i)")
            }
            values.append(UInt8(v))
        }
        guard input.count % 4 == 0, padding <= 2, values.count % 4 != 1 else {
            throw APIError(.badRequest, "illegal base64 data at input byte \(max(0, values.count - values.count % 4))")
        }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            var group: UInt32 = 0
            for (j, v) in chunk.enumerated() { group |= UInt32(v) << (18 - 6 * j) }
            out.append(UInt8(group >> 16 & 0xff))
            if chunk.count > 2 { out.append(UInt8(group >> 8 & 0xff)) }
            if chunk.count > 3 { out.append(UInt8(group & 0xff)) }
            i += 4
        }
        return out
    }

    /// The token in the request's `nextPageToken` query parameter, validated against the
    /// server's page size, or the first page.
    /// - Throws: ``APIError`` 400 with fleet's messages.
    static func from(_ values: [String], limit: Int) throws(APIError) -> PageToken {
        guard values.count <= 1 else { throw APIError(.badRequest, "too many values for page token") }
        guard let text = values.first else { return PageToken(limit: UInt16(limit), page: 1) }
        let token = try decode(text)
        guard Int(token.limit) == limit else { throw APIError(.badRequest, "token limit must be \(limit)") }
        guard token.page > 0 else { throw APIError(.badRequest, "token page must be greater than zero") }
        return token
    }

    /// The largest `pageSize` a request may name: a page's size travels in its token as 16 bits.
    static let maxPageSize = Int(UInt16.max)

    /// The request's `pageSize` (ours), or nil when it names none.
    /// - Throws: ``APIError`` 400 when it is not a whole number from 1 to ``maxPageSize``, or
    ///   given twice.
    static func pageSize(_ values: [String]) throws(APIError) -> Int? {
        guard let text = values.first else { return nil }
        guard values.count == 1 else { throw APIError(.badRequest, "too many values for pageSize") }
        guard (1...20).contains(text.utf8.count), text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let size = Int(text), (1...maxPageSize).contains(size)
        else {
            throw APIError(.badRequest, "pageSize must be a whole number from 1 to \(maxPageSize)")
        }
        return size
    }

    /// This token's page of `items`, and the next page's token when this page was full.
    func page<T>(of items: [T]) -> (items: [T], next: String?) {
        let start = (Int(page) - 1) * Int(limit)
        guard start < items.count else { return ([], nil) }
        let slice = Array(items[start..<min(start + Int(limit), items.count)])
        return (slice, slice.count == Int(limit) && page < UInt16.max ? next.encoded : nil)
    }
}
