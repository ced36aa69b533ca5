/// Laying out and writing a reply: the query's header and question echoed, then prepared bytes,
/// trimmed to the asker's UDP size, with an OPT record when the query had one.
extension DNSResponder {
    struct Reply {
        var facts: DNSQueryFacts
        var name: UnsafeRawBufferPointer
        var transport: Transport
        var rcode: DNSResponseCode = .noError
        var authoritative = false
        var prepared: PreparedAnswer?
        var negative: (ownerOffset: Int, tail: [UInt8])?
        /// Set TC whatever the answer's size (a rate-limited asker's slip reply).
        var truncated = false
    }

    func write<Sink: DNSReplySink>(_ reply: Reply, sink: Sink) -> Sink.Written? {
        let q = reply.facts
        let head = DNSHeaderBits.headerLength + reply.name.count + 4
        let optLength = q.hasEDNS ? 11 : 0
        let limit = reply.transport == .tcp ? 65535 : Self.udpLimit(offered: q.hasEDNS ? q.ednsPayloadSize : nil,
                                                                       cap: configuration.ednsPayloadSize)

        var bodyLength = 0
        var counts: (an: UInt16, ns: UInt16, ar: UInt16) = (0, 0, 0)
        var truncated = reply.truncated
        if let prepared = reply.prepared {
            bodyLength = prepared.body.count
            counts = (prepared.answerCount, prepared.authorityCount, prepared.additionalCount)
            truncated = truncated || prepared.isCapped
            if head + bodyLength + optLength > limit {
                // Keep the answers that fit; drop authority and additional. TC only when answers
                // were dropped: missing additional data alone does not call for TCP (RFC 2181 §9).
                let room = limit - head - optLength
                let kept = Self.answersFitting(prepared.answerEnds, room: room)
                bodyLength = kept == 0 ? 0 : prepared.answerEnds[kept - 1]
                truncated = truncated || kept < prepared.answerEnds.count
                counts = (UInt16(kept), 0, 0)
            }
        } else if let negative = reply.negative {
            bodyLength = 2 + negative.tail.count
            counts = (0, 1, 0)
        }

        let messageLength = head + bodyLength + optLength
        guard messageLength <= 65535 else { return nil }
        var flags = DNSHeaderBits.response | (q.flags & (0x7800 | DNSHeaderBits.recursionDesired | DNSHeaderBits.checkingDisabled))
        if reply.authoritative { flags |= DNSHeaderBits.authoritative }
        if truncated { flags |= DNSHeaderBits.truncated }
        if configuration.forwarding { flags |= DNSHeaderBits.recursionAvailable }
        flags |= reply.rcode.rawValue & 0x0F
        return sink.write(length: messageLength + (reply.transport == .tcp ? 2 : 0)) { out in
            if reply.transport == .tcp { out.u16(UInt16(messageLength)) }
            out.u16(q.id)
            out.u16(flags)
            out.u16(1)
            out.u16(counts.an)
            out.u16(counts.ns)
            out.u16(counts.ar + (q.hasEDNS ? 1 : 0))
            out.bytes(reply.name)
            out.u16(q.type)
            out.u16(q.recordClass)
            if let prepared = reply.prepared, bodyLength > 0 {
                prepared.body.withUnsafeBytes { out.bytes(UnsafeRawBufferPointer(rebasing: $0[0..<bodyLength])) }
            } else if let negative = reply.negative {
                out.u16(UInt16(truncatingIfNeeded: 0xC000 | negative.ownerOffset))
                out.bytes(negative.tail)
            }
            if q.hasEDNS { writeOPT(into: &out, rcode: reply.rcode, dnssecOK: q.dnssecOK) }
        }
    }

    /// The largest UDP reply for an asker offering `offered` bytes in EDNS (nil: no EDNS): 512
    /// without EDNS (RFC 1035), else what it offers but at least 512 and at most `cap`.
    static func udpLimit(offered: UInt16?, cap: UInt16) -> Int {
        guard let offered else { return 512 }
        return max(512, min(Int(offered), Int(cap)))
    }

    /// How many leading answers fit in `room` bytes (binary search over their end offsets).
    static func answersFitting(_ ends: [Int], room: Int) -> Int {
        var low = 0, high = ends.count
        while low < high {
            let mid = (low + high + 1) / 2
            if ends[mid - 1] <= room { low = mid } else { high = mid - 1 }
        }
        return low
    }

    private func writeOPT(into out: inout DNSReplyWriter, rcode: DNSResponseCode, dnssecOK: Bool) {
        out.u8(0)
        out.u16(DNSRecordType.opt.rawValue)
        out.u16(configuration.ednsPayloadSize)
        out.u32(UInt32(rcode.rawValue >> 4) << 24 | (dnssecOK ? 0x8000 : 0))
        out.u16(0)
    }

    /// FORMERR and the like when the question cannot be echoed: the header alone.
    func headerOnly<Sink: DNSReplySink>(id: UInt16, flags: UInt16, rcode: DNSResponseCode, transport: Transport,
                                        sink: Sink) -> Sink.Written? {
        sink.write(length: DNSHeaderBits.headerLength + (transport == .tcp ? 2 : 0)) { out in
            if transport == .tcp { out.u16(UInt16(DNSHeaderBits.headerLength)) }
            out.u16(id)
            out.u16(DNSHeaderBits.response | (flags & (0x7800 | DNSHeaderBits.recursionDesired)) | (rcode.rawValue & 0x0F))
            out.u32(0)  // four zero counts
            out.u32(0)
        }
    }
}
