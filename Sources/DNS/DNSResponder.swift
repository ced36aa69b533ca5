import NIOCore

/// The whole of fleet-dns's answering, as a pure function of the query's bytes and a
/// ``ZoneView``: no I/O, no clock, no shared state, so it is tested and fuzzed without sockets.
///
/// A query costs one hash lookup and one buffer: the response is the query's header and
/// question (so the asker's ID, flags and letter case come back) followed by prepared bytes.
public struct DNSResponder: Sendable {
    public struct Configuration: Sendable {
        /// The UDP payload size fleet-dns advertises in its OPT record, and the most it sends in
        /// one UDP reply whatever size the asker offers (512 to an asker without EDNS): larger
        /// answers are cut and marked TC, and the asker retries over TCP, which cannot be spoofed.
        /// 1232 avoids IP fragmentation on common paths (DNS flag day 2020) and bounds what one
        /// spoofed query can reflect at a victim.
        public var ednsPayloadSize: UInt16
        /// Relay queries for names outside the zone (when recursion is desired) to upstreams,
        /// instead of answering REFUSED. The server does the relaying; see ``DNSForwarder``.
        public var forwarding: Bool

        public init(ednsPayloadSize: UInt16 = 1232, forwarding: Bool = false) {
            self.ednsPayloadSize = max(512, ednsPayloadSize)
            // (at most 65535 by its type; a cap above 4096 is the operator's explicit choice)
            self.forwarding = forwarding
        }
    }

    public enum Transport: Sendable {
        /// Responses fit the asker's UDP payload size (512 without EDNS) or are cut and marked TC.
        case udp
        /// Responses are preceded by their two-byte length (RFC 1035 §4.2.2) and may use 65535 bytes.
        case tcp
    }

    public enum Outcome: Sendable {
        /// Nothing to send: not a query, or too short to have a header.
        case drop
        case reply(ByteBuffer)
        /// A name outside the zone with forwarding on: relay the query as it is.
        case forward
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Answers `query` from `zone`.
    ///
    /// - Parameter variant: picks one of the prepared shuffled orders; pass a counter that
    ///   changes per query so successive answers rotate.
    public func respond(to query: UnsafeRawBufferPointer, zone: ZoneView, transport: Transport, variant: Int,
                        allocator: ByteBufferAllocator) -> Outcome {
        switch DNSQueryFacts.read(query) {
        case .drop:
            return .drop
        case let .malformed(id, flags):
            return .reply(headerOnly(id: id, flags: flags, rcode: .formatError, transport: transport, allocator: allocator))
        case let .query(facts):
            if facts.nameIsCompressed {
                // Rare (stub resolvers never compress the question): flatten it, then answer as usual.
                var flat: [UInt8] = []
                flat.reserveCapacity(facts.nameWireLength)
                _ = try? DNSWire.walkName(query, at: DNSHeaderBits.headerLength) { offset, length in
                    flat.append(UInt8(length))
                    flat.append(contentsOf: query[offset..<offset + length])
                }
                flat.append(0)
                return flat.withUnsafeBytes {
                    answer(facts, name: $0, zone: zone, transport: transport, variant: variant, allocator: allocator)
                }
            }
            let name = UnsafeRawBufferPointer(rebasing: query[DNSHeaderBits.headerLength..<facts.nameEnd])
            return answer(facts, name: name, zone: zone, transport: transport, variant: variant, allocator: allocator)
        }
    }

    /// Convenience for tests and tools: bytes in, bytes out (nil for drop; forward gives nil too).
    public func respond(to query: [UInt8], zone: ZoneView, transport: Transport = .udp, variant: Int = 0) -> [UInt8]? {
        let outcome = query.withUnsafeBytes {
            respond(to: $0, zone: zone, transport: transport, variant: variant, allocator: ByteBufferAllocator())
        }
        guard case var .reply(buffer) = outcome else { return nil }
        return buffer.readBytes(length: buffer.readableBytes)
    }

    /// A reply to `query` carrying only `rcode` (SERVFAIL when forwarding fails, say), with the
    /// question echoed; nil when `query` is not one to answer.
    public func errorReply(to query: UnsafeRawBufferPointer, rcode: DNSResponseCode, transport: Transport,
                           allocator: ByteBufferAllocator) -> ByteBuffer? {
        switch DNSQueryFacts.read(query) {
        case .drop:
            return nil
        case let .malformed(id, flags):
            return headerOnly(id: id, flags: flags, rcode: .formatError, transport: transport, allocator: allocator)
        case let .query(facts):
            guard !facts.nameIsCompressed else {
                return headerOnly(id: facts.id, flags: facts.flags, rcode: rcode, transport: transport, allocator: allocator)
            }
            var reply = Reply(facts: facts, name: UnsafeRawBufferPointer(
                rebasing: query[DNSHeaderBits.headerLength..<facts.nameEnd]), transport: transport)
            reply.rcode = rcode
            return write(reply, allocator: allocator)
        }
    }

    /// What a rate-limited asker gets now and then instead of silence (``DNSRateLimiter``): the
    /// question echoed, no records, TC set, so a real client retries over TCP. nil when
    /// `query` is not one to answer.
    public func slipReply(to query: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard case let .query(facts) = DNSQueryFacts.read(query), !facts.nameIsCompressed else { return nil }
        var reply = Reply(facts: facts, name: UnsafeRawBufferPointer(
            rebasing: query[DNSHeaderBits.headerLength..<facts.nameEnd]), transport: .udp)
        reply.truncated = true
        return write(reply, allocator: allocator)
    }

    private func answer(_ q: DNSQueryFacts, name: UnsafeRawBufferPointer, zone: ZoneView, transport: Transport,
                        variant: Int, allocator: ByteBufferAllocator) -> Outcome {
        var reply = Reply(facts: q, name: name, transport: transport)
        guard q.opcode == DNSOpcode.query.rawValue else {
            reply.rcode = .notImplemented
            return .reply(write(reply, allocator: allocator))
        }
        if q.hasEDNS && q.ednsVersion != 0 {
            // RFC 6891 §6.1.3: we speak version 0 only; say so and answer nothing else.
            reply.rcode = .badVersion
            return .reply(write(reply, allocator: allocator))
        }
        guard zone.isReady else {
            reply.rcode = .serverFailure
            return .reply(write(reply, allocator: allocator))
        }
        guard q.recordClass == DNSClass.internet.rawValue || q.recordClass == DNSClass.any.rawValue,
              q.type != DNSRecordType.axfr.rawValue, q.type != DNSRecordType.ixfr.rawValue
        else {
            // Other classes (CHAOS `version.bind`) and zone transfers are not offered.
            reply.rcode = .refused
            return .reply(write(reply, allocator: allocator))
        }

        if let node = zone.table.lookup(name, hash: q.nameHash) {
            reply.authoritative = node.authoritative
            if let variants = node.variants(for: q.type), !variants.isEmpty {
                reply.prepared = variants[Int(UInt(bitPattern: variant) % UInt(variants.count))]
            } else if q.type == DNSRecordType.any.rawValue, let any = node.any {
                reply.prepared = any
            } else {
                reply.prepared = node.noData
            }
            return .reply(write(reply, allocator: allocator))
        }
        if let apexOffset = Self.apexOffset(in: name, apex: zone.apexKey) {
            // NXDOMAIN with the apex SOA in authority, its owner a pointer into the question.
            reply.rcode = .nameError
            reply.authoritative = true
            reply.negative = (ownerOffset: DNSHeaderBits.headerLength + apexOffset, tail: zone.negativeSOATail)
            return .reply(write(reply, allocator: allocator))
        }
        if configuration.forwarding && q.recursionDesired {
            return .forward
        }
        reply.rcode = .refused
        return .reply(write(reply, allocator: allocator))
    }

    /// Where the apex starts in `name` (lower-cased wire bytes compared), when `name` is the apex
    /// or lies below it; the match must begin at a label boundary.
    static func apexOffset(in name: UnsafeRawBufferPointer, apex: [UInt8]) -> Int? {
        let start = name.count - apex.count
        guard start >= 0 else { return nil }
        var position = 0
        while position < start { position += 1 + Int(name[position]) }
        guard position == start else { return nil }
        for i in 0..<apex.count where DNSName.asciiLower(name[start + i]) != apex[i] { return nil }
        return start
    }

    // MARK: Writing

    private struct Reply {
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

    private func write(_ reply: Reply, allocator: ByteBufferAllocator) -> ByteBuffer {
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
        var buffer = allocator.buffer(capacity: messageLength + (reply.transport == .tcp ? 2 : 0))
        if reply.transport == .tcp { buffer.writeInteger(UInt16(messageLength)) }
        buffer.writeInteger(q.id)
        var flags = DNSHeaderBits.response | (q.flags & (0x7800 | DNSHeaderBits.recursionDesired | DNSHeaderBits.checkingDisabled))
        if reply.authoritative { flags |= DNSHeaderBits.authoritative }
        if truncated { flags |= DNSHeaderBits.truncated }
        if configuration.forwarding { flags |= DNSHeaderBits.recursionAvailable }
        flags |= reply.rcode.rawValue & 0x0F
        buffer.writeInteger(flags)
        buffer.writeInteger(UInt16(1))
        buffer.writeInteger(counts.an)
        buffer.writeInteger(counts.ns)
        buffer.writeInteger(counts.ar + (q.hasEDNS ? 1 : 0))
        buffer.writeBytes(reply.name)
        buffer.writeInteger(q.type)
        buffer.writeInteger(q.recordClass)
        if let prepared = reply.prepared, bodyLength > 0 {
            prepared.body.withUnsafeBytes { _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: $0[0..<bodyLength])) }
        } else if let negative = reply.negative {
            buffer.writeInteger(UInt16(0xC000 | negative.ownerOffset))
            buffer.writeBytes(negative.tail)
        }
        if q.hasEDNS { writeOPT(into: &buffer, rcode: reply.rcode, dnssecOK: q.dnssecOK) }
        return buffer
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

    private func writeOPT(into buffer: inout ByteBuffer, rcode: DNSResponseCode, dnssecOK: Bool) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(DNSRecordType.opt.rawValue)
        buffer.writeInteger(configuration.ednsPayloadSize)
        buffer.writeInteger(UInt32(rcode.rawValue >> 4) << 24 | (dnssecOK ? 0x8000 : 0))
        buffer.writeInteger(UInt16(0))
    }

    /// FORMERR and the like when the question cannot be echoed: the header alone.
    private func headerOnly(id: UInt16, flags: UInt16, rcode: DNSResponseCode, transport: Transport,
                            allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: DNSHeaderBits.headerLength + 2)
        if transport == .tcp { buffer.writeInteger(UInt16(DNSHeaderBits.headerLength)) }
        buffer.writeInteger(id)
        buffer.writeInteger(DNSHeaderBits.response | (flags & (0x7800 | DNSHeaderBits.recursionDesired)) | rcode.rawValue)
        buffer.writeInteger(UInt64(0))  // four zero counts
        return buffer
    }
}
