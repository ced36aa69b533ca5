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

    /// ``Outcome`` for a reply written into the caller's memory: its length there.
    public enum WrittenOutcome: Sendable, Equatable {
        /// Nothing to send (also when the reply would not fit the room given).
        case drop
        case reply(length: Int)
        case forward
    }

    /// What the responder decided, the reply already written through a ``DNSReplySink``.
    enum Decision<Written> {
        case drop
        case reply(Written)
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
        switch respond(to: query, zone: zone, transport: transport, variant: variant,
                       sink: ByteBufferReplySink(allocator: allocator)) {
        case .drop: return .drop
        case let .reply(buffer): return .reply(buffer)
        case .forward: return .forward
        }
    }

    /// Answers `query` from `zone` into `room`, allocating nothing (the batched UDP path).
    /// A reply longer than `room` is not sent: give at least the UDP limit's bytes.
    public func respond(to query: UnsafeRawBufferPointer, zone: ZoneView, transport: Transport, variant: Int,
                        into room: UnsafeMutableRawBufferPointer) -> WrittenOutcome {
        switch respond(to: query, zone: zone, transport: transport, variant: variant, sink: RawReplySink(room: room)) {
        case .drop: return .drop
        case let .reply(length): return .reply(length: length)
        case .forward: return .forward
        }
    }

    func respond<Sink: DNSReplySink>(to query: UnsafeRawBufferPointer, zone: ZoneView, transport: Transport,
                                     variant: Int, sink: Sink) -> Decision<Sink.Written> {
        switch DNSQueryFacts.read(query) {
        case .drop:
            return .drop
        case let .malformed(id, flags):
            return decision(headerOnly(id: id, flags: flags, rcode: .formatError, transport: transport, sink: sink))
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
                    answer(facts, name: $0, zone: zone, transport: transport, variant: variant, sink: sink)
                }
            }
            let name = UnsafeRawBufferPointer(rebasing: query[DNSHeaderBits.headerLength..<facts.nameEnd])
            return answer(facts, name: name, zone: zone, transport: transport, variant: variant, sink: sink)
        }
    }

    /// Convenience for tests and tools: bytes in, bytes out (nil for drop; forward gives nil too).
    /// Written through the allocation-free path, with room for any reply.
    public func respond(to query: [UInt8], zone: ZoneView, transport: Transport = .udp, variant: Int = 0) -> [UInt8]? {
        var room = [UInt8](repeating: 0, count: 65535 + 2)
        let outcome = query.withUnsafeBytes { query in
            room.withUnsafeMutableBytes { respond(to: query, zone: zone, transport: transport, variant: variant, into: $0) }
        }
        guard case let .reply(length) = outcome else { return nil }
        return Array(room[0..<length])
    }

    /// A reply to `query` carrying only `rcode` (SERVFAIL when forwarding fails, say), with the
    /// question echoed; nil when `query` is not one to answer.
    public func errorReply(to query: UnsafeRawBufferPointer, rcode: DNSResponseCode, transport: Transport,
                           allocator: ByteBufferAllocator) -> ByteBuffer? {
        errorReply(to: query, rcode: rcode, transport: transport, sink: ByteBufferReplySink(allocator: allocator))
    }

    /// ``errorReply(to:rcode:transport:allocator:)`` written into `room`: the reply's length.
    public func errorReply(to query: UnsafeRawBufferPointer, rcode: DNSResponseCode, transport: Transport,
                           into room: UnsafeMutableRawBufferPointer) -> Int? {
        errorReply(to: query, rcode: rcode, transport: transport, sink: RawReplySink(room: room))
    }

    private func errorReply<Sink: DNSReplySink>(to query: UnsafeRawBufferPointer, rcode: DNSResponseCode,
                                               transport: Transport, sink: Sink) -> Sink.Written? {
        switch DNSQueryFacts.read(query) {
        case .drop:
            return nil
        case let .malformed(id, flags):
            return headerOnly(id: id, flags: flags, rcode: .formatError, transport: transport, sink: sink)
        case let .query(facts):
            guard !facts.nameIsCompressed else {
                return headerOnly(id: facts.id, flags: facts.flags, rcode: rcode, transport: transport, sink: sink)
            }
            var reply = Reply(facts: facts, name: UnsafeRawBufferPointer(
                rebasing: query[DNSHeaderBits.headerLength..<facts.nameEnd]), transport: transport)
            reply.rcode = rcode
            return write(reply, sink: sink)
        }
    }

    /// What a rate-limited asker gets now and then instead of silence (``DNSRateLimiter``): the
    /// question echoed, no records, TC set, so a real client retries over TCP. nil when
    /// `query` is not one to answer.
    public func slipReply(to query: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        slipReply(to: query, sink: ByteBufferReplySink(allocator: allocator))
    }

    /// ``slipReply(to:allocator:)`` written into `room`: the reply's length.
    public func slipReply(to query: UnsafeRawBufferPointer, into room: UnsafeMutableRawBufferPointer) -> Int? {
        slipReply(to: query, sink: RawReplySink(room: room))
    }

    private func slipReply<Sink: DNSReplySink>(to query: UnsafeRawBufferPointer, sink: Sink) -> Sink.Written? {
        guard case let .query(facts) = DNSQueryFacts.read(query), !facts.nameIsCompressed else { return nil }
        var reply = Reply(facts: facts, name: UnsafeRawBufferPointer(
            rebasing: query[DNSHeaderBits.headerLength..<facts.nameEnd]), transport: .udp)
        reply.truncated = true
        return write(reply, sink: sink)
    }

    /// A written reply, or nothing to send when it did not fit.
    private func decision<Written>(_ written: Written?) -> Decision<Written> {
        written.map { .reply($0) } ?? .drop
    }

    private func answer<Sink: DNSReplySink>(_ q: DNSQueryFacts, name: UnsafeRawBufferPointer, zone: ZoneView,
                                            transport: Transport, variant: Int, sink: Sink) -> Decision<Sink.Written> {
        var reply = Reply(facts: q, name: name, transport: transport)
        guard q.opcode == DNSOpcode.query.rawValue else {
            reply.rcode = .notImplemented
            return decision(write(reply, sink: sink))
        }
        if q.hasEDNS && q.ednsVersion != 0 {
            // RFC 6891 §6.1.3: we speak version 0 only; say so and answer nothing else.
            reply.rcode = .badVersion
            return decision(write(reply, sink: sink))
        }
        guard zone.isReady else {
            reply.rcode = .serverFailure
            return decision(write(reply, sink: sink))
        }
        guard q.recordClass == DNSClass.internet.rawValue || q.recordClass == DNSClass.any.rawValue,
              q.type != DNSRecordType.axfr.rawValue, q.type != DNSRecordType.ixfr.rawValue
        else {
            // Other classes (CHAOS `version.bind`) and zone transfers are not offered.
            reply.rcode = .refused
            return decision(write(reply, sink: sink))
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
            return decision(write(reply, sink: sink))
        }
        if let apexOffset = Self.apexOffset(in: name, apex: zone.apexKey) {
            // NXDOMAIN with the apex SOA in authority, its owner a pointer into the question.
            reply.rcode = .nameError
            reply.authoritative = true
            reply.negative = (ownerOffset: DNSHeaderBits.headerLength + apexOffset, tail: zone.negativeSOATail)
            return decision(write(reply, sink: sink))
        }
        if configuration.forwarding && q.recursionDesired {
            return .forward
        }
        reply.rcode = .refused
        return decision(write(reply, sink: sink))
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
}
