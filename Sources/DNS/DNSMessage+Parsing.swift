/// Why a packet could not be read. The responder answers FORMERR for any of these once the
/// header is readable; the offset says where reading stopped, for tests and logs.
public struct DNSParseError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case truncated, badLabelType, badPointer, nameTooLong, badRecordData, badOPT
        }
        private let base: Base
        /// The packet ends inside a field.
        public static let truncated = Code(base: .truncated)
        /// A label length byte starts with 01 or 10 (extended or reserved label types).
        public static let badLabelType = Code(base: .badLabelType)
        /// A compression pointer that does not point strictly backwards (a loop or out of range).
        public static let badPointer = Code(base: .badPointer)
        /// A name longer than 255 bytes once decompressed.
        public static let nameTooLong = Code(base: .nameTooLong)
        /// Record data that does not match its type or length.
        public static let badRecordData = Code(base: .badRecordData)
        /// An OPT record that is not the one allowed in the additional section with the root name.
        public static let badOPT = Code(base: .badOPT)
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// Byte offset in the packet where the problem was found.
    public var offset: Int

    public init(_ code: Code, at offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "malformed DNS message: \(code) at byte \(offset)" }
}

/// Reading wire format from a byte buffer with every access bounds-checked, in release builds
/// too (`UnsafeRawBufferPointer`'s subscript checks only in debug builds).
enum DNSWire {
    struct NameExtent {
        /// Offset just past the name where it was written (past the first pointer, if any).
        var end: Int
        /// Length of the name uncompressed, including the final zero byte.
        var wireLength: Int
        var isCompressed: Bool
    }

    /// Walks the possibly compressed name at `start`, calling `label(offset, length)` for each label.
    ///
    /// Each compression pointer must point strictly below the place the previous jump started
    /// from (initially the name's own start). So pointers strictly decrease, which rules out
    /// loops of any length, and together with the 255-byte limit bounds the work per name.
    @inline(__always)
    static func walkName(_ p: UnsafeRawBufferPointer, at start: Int,
                         _ label: (_ offset: Int, _ length: Int) -> Void) throws(DNSParseError) -> NameExtent {
        var pos = start
        var end = -1
        var limit = start
        var wireLength = 1
        while true {
            guard pos < p.count else { throw DNSParseError(.truncated, at: pos) }
            let length = Int(p[pos])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    return NameExtent(end: end >= 0 ? end : pos + 1, wireLength: wireLength, isCompressed: end >= 0)
                }
                guard pos + 1 + length <= p.count else { throw DNSParseError(.truncated, at: pos) }
                wireLength += 1 + length
                guard wireLength <= DNSName.maxWireLength else { throw DNSParseError(.nameTooLong, at: pos) }
                label(pos + 1, length)
                pos += 1 + length
            case 0xC0:
                guard pos + 1 < p.count else { throw DNSParseError(.truncated, at: pos) }
                let target = (length & 0x3F) << 8 | Int(p[pos + 1])
                guard target < limit else { throw DNSParseError(.badPointer, at: pos) }
                if end < 0 { end = pos + 2 }
                limit = target
                pos = target
            default:
                throw DNSParseError(.badLabelType, at: pos)
            }
        }
    }

    static func readName(_ p: UnsafeRawBufferPointer, at start: Int) throws(DNSParseError) -> (DNSName, end: Int) {
        var labels: [[UInt8]] = []
        let extent = try walkName(p, at: start) { offset, length in
            labels.append(Array(p[offset..<offset + length]))
        }
        return (DNSName(uncheckedLabels: labels), extent.end)
    }

    @inline(__always)
    static func u16(_ p: UnsafeRawBufferPointer, _ offset: Int) throws(DNSParseError) -> UInt16 {
        guard offset >= 0, offset + 2 <= p.count else { throw DNSParseError(.truncated, at: offset) }
        return UInt16(p[offset]) << 8 | UInt16(p[offset + 1])
    }

    @inline(__always)
    static func u32(_ p: UnsafeRawBufferPointer, _ offset: Int) throws(DNSParseError) -> UInt32 {
        guard offset >= 0, offset + 4 <= p.count else { throw DNSParseError(.truncated, at: offset) }
        return UInt32(p[offset]) << 24 | UInt32(p[offset + 1]) << 16 | UInt32(p[offset + 2]) << 8 | UInt32(p[offset + 3])
    }
}

extension DNSMessage {
    /// Parses a whole message; names anywhere (rdata included) may be compressed.
    public init(wire bytes: [UInt8]) throws(DNSParseError) {
        let result: Result<DNSMessage, DNSParseError> = bytes.withUnsafeBytes { p in
            do throws(DNSParseError) { return .success(try DNSMessage.parse(p)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    static func parse(_ p: UnsafeRawBufferPointer) throws(DNSParseError) -> DNSMessage {
        guard p.count >= DNSHeaderBits.headerLength else { throw DNSParseError(.truncated, at: p.count) }
        let flags = try DNSWire.u16(p, 2)
        var message = DNSMessage(
            id: try DNSWire.u16(p, 0),
            isResponse: flags & DNSHeaderBits.response != 0,
            opcode: DNSOpcode(rawValue: UInt8(truncatingIfNeeded: flags >> DNSHeaderBits.opcodeShift)),
            isAuthoritative: flags & DNSHeaderBits.authoritative != 0,
            isTruncated: flags & DNSHeaderBits.truncated != 0,
            recursionDesired: flags & DNSHeaderBits.recursionDesired != 0,
            recursionAvailable: flags & DNSHeaderBits.recursionAvailable != 0,
            authenticData: flags & DNSHeaderBits.authenticData != 0,
            checkingDisabled: flags & DNSHeaderBits.checkingDisabled != 0,
            rcode: DNSResponseCode(rawValue: flags & 0x000F))
        let counts = [try DNSWire.u16(p, 4), try DNSWire.u16(p, 6), try DNSWire.u16(p, 8), try DNSWire.u16(p, 10)]
        var offset = DNSHeaderBits.headerLength
        for _ in 0..<counts[0] {
            let (name, end) = try DNSWire.readName(p, at: offset)
            let type = try DNSWire.u16(p, end)
            let recordClass = try DNSWire.u16(p, end + 2)
            message.questions.append(DNSQuestion(name: name, type: DNSRecordType(rawValue: type),
                                                 recordClass: DNSClass(rawValue: recordClass)))
            offset = end + 4
        }
        for section in 1...3 {
            for _ in 0..<counts[section] {
                let start = offset
                let (name, end) = try DNSWire.readName(p, at: offset)
                let type = DNSRecordType(rawValue: try DNSWire.u16(p, end))
                let recordClass = try DNSWire.u16(p, end + 2)
                let ttl = try DNSWire.u32(p, end + 4)
                let length = Int(try DNSWire.u16(p, end + 8))
                let dataStart = end + 10
                guard dataStart + length <= p.count else { throw DNSParseError(.truncated, at: dataStart) }
                offset = dataStart + length
                if type == .opt {
                    // One OPT, in the additional section, owned by the root (RFC 6891 §6.1.1).
                    guard section == 3, message.edns == nil, name.isRoot else { throw DNSParseError(.badOPT, at: start) }
                    message.edns = try parseOPT(p, payloadSize: recordClass, ttl: ttl, data: dataStart..<offset)
                    message.rcode = DNSResponseCode(rawValue: UInt16(message.edns!.extendedRCode) << 4 | message.rcode.rawValue)
                    continue
                }
                let data = try parseRecordData(p, type: type, data: dataStart..<offset)
                let record = DNSRecord(name: name, recordClass: DNSClass(rawValue: recordClass), ttl: ttl, data: data)
                switch section {
                case 1: message.answers.append(record)
                case 2: message.authority.append(record)
                default: message.additional.append(record)
                }
            }
        }
        return message
    }

    static func parseOPT(_ p: UnsafeRawBufferPointer, payloadSize: UInt16, ttl: UInt32,
                         data: Range<Int>) throws(DNSParseError) -> DNSEDNS {
        var options: [DNSEDNSOption] = []
        var offset = data.lowerBound
        while offset < data.upperBound {
            let code = try DNSWire.u16(p, offset)
            let length = Int(try DNSWire.u16(p, offset + 2))
            guard offset + 4 + length <= data.upperBound else { throw DNSParseError(.badOPT, at: offset) }
            options.append(DNSEDNSOption(code: code, data: Array(p[offset + 4..<offset + 4 + length])))
            offset += 4 + length
        }
        return DNSEDNS(udpPayloadSize: payloadSize, extendedRCode: UInt8(ttl >> 24), version: UInt8((ttl >> 16) & 0xFF),
                       dnssecOK: ttl & 0x8000 != 0, options: options)
    }

    static func parseRecordData(_ p: UnsafeRawBufferPointer, type: DNSRecordType,
                                data: Range<Int>) throws(DNSParseError) -> DNSRecordData {
        // A name inside rdata must end exactly where the rdata says (or, for SOA, leave room).
        func name(at offset: Int) throws(DNSParseError) -> (DNSName, Int) {
            let (name, end) = try DNSWire.readName(p, at: offset)
            guard end <= data.upperBound else { throw DNSParseError(.badRecordData, at: offset) }
            return (name, end)
        }
        func exact(_ end: Int) throws(DNSParseError) {
            guard end == data.upperBound else { throw DNSParseError(.badRecordData, at: data.lowerBound) }
        }
        let start = data.lowerBound
        switch type {
        case .a:
            try exact(start + 4)
            return .a(IPv4Bytes(p[start], p[start + 1], p[start + 2], p[start + 3]))
        case .aaaa:
            try exact(start + 16)
            return .aaaa(IPv6Bytes(Array(p[data]))!)
        case .ns, .cname, .ptr:
            let (target, end) = try name(at: start)
            try exact(end)
            return type == .ns ? .ns(target) : type == .cname ? .cname(target) : .ptr(target)
        case .soa:
            let (primary, afterPrimary) = try name(at: start)
            let (mailbox, afterMailbox) = try name(at: afterPrimary)
            try exact(afterMailbox + 20)
            return .soa(DNSSOA(primaryServer: primary, responsibleMailbox: mailbox,
                               serial: try DNSWire.u32(p, afterMailbox), refresh: try DNSWire.u32(p, afterMailbox + 4),
                               retry: try DNSWire.u32(p, afterMailbox + 8), expire: try DNSWire.u32(p, afterMailbox + 12),
                               minimum: try DNSWire.u32(p, afterMailbox + 16)))
        case .txt:
            var strings: [[UInt8]] = []
            var offset = start
            while offset < data.upperBound {
                let length = Int(p[offset])
                guard offset + 1 + length <= data.upperBound else { throw DNSParseError(.badRecordData, at: offset) }
                strings.append(Array(p[offset + 1..<offset + 1 + length]))
                offset += 1 + length
            }
            return .txt(strings)
        case .srv:
            let priority = try DNSWire.u16(p, start)
            let weight = try DNSWire.u16(p, start + 2)
            let port = try DNSWire.u16(p, start + 4)
            guard start + 6 <= data.upperBound else { throw DNSParseError(.badRecordData, at: start) }
            let (target, end) = try name(at: start + 6)
            try exact(end)
            return .srv(priority: priority, weight: weight, port: port, target: target)
        default:
            return .unknown(type: type, bytes: Array(p[data]))
        }
    }
}
