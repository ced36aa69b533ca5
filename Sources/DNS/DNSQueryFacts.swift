/// What the responder needs from a query, read in place without building a ``DNSMessage``:
/// the header, where the question's name lies (with its hash, computed while walking it) and EDNS.
///
/// The whole packet is still checked, answer, authority and additional sections included, so
/// that malformed input is answered FORMERR the same way however it is malformed.
struct DNSQueryFacts {
    var id: UInt16
    var flags: UInt16
    var nameEnd: Int
    /// Uncompressed length of the question's name, including the final zero byte.
    var nameWireLength: Int
    var nameIsCompressed: Bool
    /// ``NameHash`` of the name's lower-cased uncompressed wire form.
    var nameHash: UInt64
    var type: UInt16
    var recordClass: UInt16
    var hasEDNS = false
    var ednsPayloadSize: UInt16 = 0
    var ednsVersion: UInt8 = 0
    var dnssecOK = false

    var opcode: UInt8 { UInt8(truncatingIfNeeded: flags >> DNSHeaderBits.opcodeShift) & 0x0F }
    var recursionDesired: Bool { flags & DNSHeaderBits.recursionDesired != 0 }

    enum Reading {
        /// Too short for a header, or a response: never answered (answering responses invites loops).
        case drop
        /// The header is readable but the rest is not, or there is not exactly one question.
        case malformed(id: UInt16, flags: UInt16)
        case query(DNSQueryFacts)
    }

    static func read(_ p: UnsafeRawBufferPointer) -> Reading {
        guard p.count >= DNSHeaderBits.headerLength else { return .drop }
        let id = UInt16(p[0]) << 8 | UInt16(p[1])
        let flags = UInt16(p[2]) << 8 | UInt16(p[3])
        guard flags & DNSHeaderBits.response == 0 else { return .drop }
        do throws(DNSParseError) {
            let questions = try DNSWire.u16(p, 4)
            let answers = Int(try DNSWire.u16(p, 6))
            let authority = Int(try DNSWire.u16(p, 8))
            let additional = Int(try DNSWire.u16(p, 10))
            // RFC 9619: a query has exactly one question.
            guard questions == 1 else { return .malformed(id: id, flags: flags) }
            var hash = NameHash.seed
            let name = try DNSWire.walkName(p, at: DNSHeaderBits.headerLength) { offset, length in
                NameHash.add(&hash, UInt8(length))
                for i in offset..<offset + length { NameHash.add(&hash, p[i]) }
            }
            NameHash.add(&hash, 0)
            var facts = DNSQueryFacts(id: id, flags: flags, nameEnd: name.end, nameWireLength: name.wireLength,
                                      nameIsCompressed: name.isCompressed, nameHash: hash,
                                      type: try DNSWire.u16(p, name.end), recordClass: try DNSWire.u16(p, name.end + 2))
            var offset = name.end + 4
            // Records in a query's answer and authority sections are unusual; read past them.
            for _ in 0..<answers + authority {
                offset = try skipRecord(p, at: offset).end
            }
            for _ in 0..<additional {
                let record = try skipRecord(p, at: offset)
                if record.type == DNSRecordType.opt.rawValue {
                    guard !facts.hasEDNS, record.ownerIsRoot else { throw DNSParseError(.badOPT, at: offset) }
                    try checkOptions(p, record.data)
                    facts.hasEDNS = true
                    facts.ednsPayloadSize = record.recordClass
                    facts.ednsVersion = UInt8((record.ttl >> 16) & 0xFF)
                    facts.dnssecOK = record.ttl & 0x8000 != 0
                }
                offset = record.end
            }
            // Bytes after the last record are ignored, as most servers do.
            return .query(facts)
        } catch {
            return .malformed(id: id, flags: flags)
        }
    }

    private struct SkippedRecord {
        var end: Int
        var ownerIsRoot: Bool
        var type: UInt16
        var recordClass: UInt16
        var ttl: UInt32
        var data: Range<Int>
    }

    private static func skipRecord(_ p: UnsafeRawBufferPointer, at offset: Int) throws(DNSParseError) -> SkippedRecord {
        let owner = try DNSWire.walkName(p, at: offset) { _, _ in }
        let type = try DNSWire.u16(p, owner.end)
        let recordClass = try DNSWire.u16(p, owner.end + 2)
        let ttl = try DNSWire.u32(p, owner.end + 4)
        let length = Int(try DNSWire.u16(p, owner.end + 8))
        let dataStart = owner.end + 10
        guard dataStart + length <= p.count else { throw DNSParseError(.truncated, at: dataStart) }
        return SkippedRecord(end: dataStart + length, ownerIsRoot: owner.wireLength == 1, type: type,
                             recordClass: recordClass, ttl: ttl, data: dataStart..<dataStart + length)
    }

    /// EDNS options must tile the OPT's data exactly (RFC 6891 §6.1.2).
    private static func checkOptions(_ p: UnsafeRawBufferPointer, _ data: Range<Int>) throws(DNSParseError) {
        var offset = data.lowerBound
        while offset < data.upperBound {
            guard offset + 4 <= data.upperBound else { throw DNSParseError(.badOPT, at: offset) }
            let length = Int(try DNSWire.u16(p, offset + 2))
            offset += 4 + length
            guard offset <= data.upperBound else { throw DNSParseError(.badOPT, at: offset) }
        }
    }
}
