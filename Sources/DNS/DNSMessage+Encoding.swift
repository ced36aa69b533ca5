/// Writes wire format with name compression (RFC 1035 §4.1.4).
///
/// Every name written registers each of its suffixes at the offset it starts at, so later names
/// can point at the longest suffix already present. Pointers only ever point backwards, which is
/// what lets ``ZoneView`` cut a prepared answer after any record and still have valid pointers.
struct DNSWireWriter {
    private(set) var bytes: [UInt8] = []
    /// Offsets where each name suffix written so far starts, by a hash of the suffix's
    /// lower-cased labels; a candidate is confirmed against the bytes written there, so this
    /// costs no allocation per name (answers are prepared by the thousand per change).
    private var suffixOffsets: [UInt64: [Int]] = [:]

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(value & 0xFFFF))
    }

    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    mutating func set16(_ value: UInt16, at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xFF)
    }

    /// Writes `name`, pointing at an earlier copy of its longest known suffix when `compress`.
    /// Uncompressed names (SRV targets, RFC 2782) still register their suffixes for later names.
    mutating func name(_ name: DNSName, compress: Bool = true) {
        let labels = name.labels
        for index in labels.indices {
            let hash = Self.suffixHash(labels, from: index)
            if compress, let offset = suffixOffsets[hash]?.first(where: { matches(at: $0, labels, from: index) }) {
                u16(0xC000 | UInt16(offset))
                return
            }
            register(hash, at: bytes.count, labels, from: index)
            u8(UInt8(labels[index].count))
            raw(labels[index])
        }
        u8(0)
    }

    /// Records a name already present at `offset` (the question of a prepared answer).
    mutating func registerName(_ name: DNSName, at offset: Int) {
        var position = offset
        for index in name.labels.indices {
            register(Self.suffixHash(name.labels, from: index), at: position, name.labels, from: index)
            position += 1 + name.labels[index].count
        }
    }

    private mutating func register(_ hash: UInt64, at offset: Int, _ labels: [[UInt8]], from index: Int) {
        // Pointers hold 14 bits; names past that offset are written but cannot be targets.
        guard offset < 0x4000 else { return }
        if let known = suffixOffsets[hash], known.contains(where: { matches(at: $0, labels, from: index) }) { return }
        suffixOffsets[hash, default: []].append(offset)
    }

    private static func suffixHash(_ labels: [[UInt8]], from index: Int) -> UInt64 {
        var hash = NameHash.seed
        for label in labels[index...] {
            NameHash.add(&hash, UInt8(label.count))
            for byte in label { NameHash.add(&hash, byte) }
        }
        return hash
    }

    /// True when the name written at `offset` (following our own pointers) is `labels[index...]`.
    private func matches(at offset: Int, _ labels: [[UInt8]], from index: Int) -> Bool {
        var position = offset
        var label = index
        while true {
            let length = Int(bytes[position])
            if length & 0xC0 == 0xC0 {
                position = (length & 0x3F) << 8 | Int(bytes[position + 1])
                continue
            }
            if length == 0 { return label == labels.count }
            guard label < labels.count, labels[label].count == length else { return false }
            for (i, byte) in labels[label].enumerated()
            where DNSName.asciiLower(byte) != DNSName.asciiLower(bytes[position + 1 + i]) {
                return false
            }
            position += 1 + length
            label += 1
        }
    }

    mutating func question(_ question: DNSQuestion, compress: Bool = true) {
        name(question.name, compress: compress)
        u16(question.type.rawValue)
        u16(question.recordClass.rawValue)
    }

    mutating func record(_ record: DNSRecord, compress: Bool = true) {
        name(record.name, compress: compress)
        u16(record.type.rawValue)
        u16(record.recordClass.rawValue)
        u32(record.ttl)
        let lengthAt = count
        u16(0)
        switch record.data {
        case let .a(address):
            raw(address.array)
        case let .aaaa(address):
            raw(address.array)
        case let .ns(target), let .cname(target), let .ptr(target):
            name(target, compress: compress)
        case let .soa(soa):
            name(soa.primaryServer, compress: compress)
            name(soa.responsibleMailbox, compress: compress)
            u32(soa.serial)
            u32(soa.refresh)
            u32(soa.retry)
            u32(soa.expire)
            u32(soa.minimum)
        case let .txt(strings):
            // Written as given, even an empty list (zero-length data) that RFC 1035 does not
            // allow: so parse(encode(m)) == m holds for whatever a packet carried.
            for string in strings {
                let clipped = string.prefix(255)
                u8(UInt8(clipped.count))
                raw(Array(clipped))
            }
        case let .srv(priority, weight, port, target):
            u16(priority)
            u16(weight)
            u16(port)
            name(target, compress: false)
        case let .unknown(_, data):
            raw(data)
        }
        set16(UInt16(clamping: count - lengthAt - 2), at: lengthAt)
    }

    mutating func opt(_ edns: DNSEDNS, extendedRCode: UInt8) {
        u8(0)
        u16(DNSRecordType.opt.rawValue)
        u16(edns.udpPayloadSize)
        u32(UInt32(extendedRCode) << 24 | UInt32(edns.version) << 16 | (edns.dnssecOK ? 0x8000 : 0))
        let lengthAt = count
        u16(0)
        for option in edns.options {
            u16(option.code)
            u16(UInt16(clamping: option.data.count))
            raw(option.data)
        }
        set16(UInt16(clamping: count - lengthAt - 2), at: lengthAt)
    }
}

extension DNSMessage {
    /// The header flags word, response code's low four bits included.
    var flagsWord: UInt16 {
        var flags = UInt16(opcode.rawValue) << DNSHeaderBits.opcodeShift | (rcode.rawValue & 0x0F)
        if isResponse { flags |= DNSHeaderBits.response }
        if isAuthoritative { flags |= DNSHeaderBits.authoritative }
        if isTruncated { flags |= DNSHeaderBits.truncated }
        if recursionDesired { flags |= DNSHeaderBits.recursionDesired }
        if recursionAvailable { flags |= DNSHeaderBits.recursionAvailable }
        if authenticData { flags |= DNSHeaderBits.authenticData }
        if checkingDisabled { flags |= DNSHeaderBits.checkingDisabled }
        return flags
    }

    /// The message in wire form, names compressed unless `compress` is false.
    public func encoded(compress: Bool = true) -> [UInt8] {
        var writer = DNSWireWriter()
        writer.u16(id)
        writer.u16(flagsWord)
        writer.u16(UInt16(clamping: questions.count))
        writer.u16(UInt16(clamping: answers.count))
        writer.u16(UInt16(clamping: authority.count))
        writer.u16(UInt16(clamping: additional.count + (edns == nil ? 0 : 1)))
        for question in questions { writer.question(question, compress: compress) }
        for record in answers + authority + additional { writer.record(record, compress: compress) }
        if let edns { writer.opt(edns, extendedRCode: UInt8(truncatingIfNeeded: rcode.rawValue >> 4)) }
        return writer.bytes
    }
}
