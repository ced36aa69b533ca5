import NIOCore

/// Writes a DNS message into memory it does not own, checking every store against the end, so a
/// layout mistake shows as ``overflowed`` instead of a write past the buffer.
struct DNSReplyWriter {
    private let target: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ target: UnsafeMutableRawBufferPointer) {
        self.target = target
    }

    @inline(__always)
    private mutating func reserve(_ length: Int) -> Int? {
        guard !overflowed, length <= target.count - count else {
            overflowed = true
            return nil
        }
        defer { count += length }
        return count
    }

    mutating func u8(_ value: UInt8) {
        guard let at = reserve(1) else { return }
        target[at] = value
    }

    mutating func u16(_ value: UInt16) {
        guard let at = reserve(2) else { return }
        target[at] = UInt8(truncatingIfNeeded: value >> 8)
        target[at + 1] = UInt8(truncatingIfNeeded: value)
    }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(truncatingIfNeeded: value >> 16))
        u16(UInt16(truncatingIfNeeded: value))
    }

    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard !source.isEmpty, let at = reserve(source.count), let base = target.baseAddress,
              let from = source.baseAddress else { return }
        (base + at).copyMemory(from: from, byteCount: source.count)
    }

    mutating func bytes(_ source: [UInt8]) {
        source.withUnsafeBytes { bytes($0) }
    }
}

/// Where the responder puts a reply: a new `ByteBuffer` (the event-loop listeners), or a slot of
/// memory prepared once (the batched UDP listener, which allocates nothing per query).
protocol DNSReplySink {
    associatedtype Written
    /// Runs `encode` over room for `length` bytes; nil when they do not fit (then nothing is sent).
    func write(length: Int, _ encode: (inout DNSReplyWriter) -> Void) -> Written?
}

struct ByteBufferReplySink: DNSReplySink {
    let allocator: ByteBufferAllocator

    func write(length: Int, _ encode: (inout DNSReplyWriter) -> Void) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: length)
        let written = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { room in
            var writer = DNSReplyWriter(UnsafeMutableRawBufferPointer(rebasing: room[0..<length]))
            encode(&writer)
            return writer.overflowed ? 0 : writer.count
        }
        return written == length ? buffer : nil
    }
}

/// A reply area owned by the caller; the result is the reply's length in it.
struct RawReplySink: DNSReplySink {
    let room: UnsafeMutableRawBufferPointer

    func write(length: Int, _ encode: (inout DNSReplyWriter) -> Void) -> Int? {
        guard length <= room.count else { return nil }
        var writer = DNSReplyWriter(UnsafeMutableRawBufferPointer(rebasing: room[0..<length]))
        encode(&writer)
        return writer.overflowed || writer.count != length ? nil : length
    }
}
