import FleetTestSupport
import FleetDNS
import FleetDiscovery
import Foundation
import NIOCore

// Fuzzing the message parser and the responder.
//
// Two ways to drive the same check (`DNSFuzzCheck.run`):
//  - libFuzzer, coverage guided: build with -DDNS_LIBFUZZER (see scripts/fuzz-dns); libFuzzer
//    supplies `main` and calls `LLVMFuzzerTestOneInput`.
//  - otherwise a deterministic mutation driver: valid queries and responses mutated in ways
//    that hit DNS's weak spots (counts, pointers, lengths), millions per run, each input
//    reproducible from (seed, iteration).
//
// Properties checked, beyond "does not crash": a message that parses re-encodes to one that
// parses equal; every reply the responder produces parses, carries the query's ID, is a
// response, and fits the transport's size limit.

enum DNSFuzzCheck {
    static let zone: ZoneView = {
        var builder = ZoneBuilder(settings: ZoneSettings(nameserverAddresses: ["10.9.9.9", "fd00::9"], serial: 1))
        var records: [DiscoveryRecord] = []
        for i in 1...40 {
            records.append(DiscoveryRecord(
                service: "web", instance: "\(i)", unit: nil, machineID: "m\(i)", machineName: "node\(i % 7)",
                address: i % 5 == 0 ? "fd00::\(i)" : "10.0.\(i / 256).\(i % 256)",
                ports: [.init(port: 8080, proto: "tcp", name: "http"), .init(port: 53, proto: "udp")],
                metadata: ["version": "1.\(i)", "zone": "a"], healthy: i % 9 != 0, answerTTL: 5))
        }
        records.append(DiscoveryRecord(service: "db", instance: "primary", unit: nil, machineID: "m1", machineName: "node1",
                                       address: "10.0.0.1", ports: [.init(port: 5432)]))
        for record in records { builder.upsert(record, key: DiscoveryKeys.standard.record(of: record)) }
        return builder.view()
    }()

    static let responder = DNSResponder()
    static let forwardingResponder = DNSResponder(configuration: .init(forwarding: true))

    static func run(_ bytes: [UInt8]) {
        let parsed = try? DNSMessage(wire: bytes)
        if let parsed {
            let again = try? DNSMessage(wire: parsed.encoded())
            check(again == parsed, "re-encoding changed the message", bytes)
            let plain = try? DNSMessage(wire: parsed.encoded(compress: false))
            check(plain == parsed, "uncompressed re-encoding changed the message", bytes)
        }
        for (index, transport) in [DNSResponder.Transport.udp, .tcp].enumerated() {
            let responder = index == 0 ? responder : forwardingResponder
            guard var reply = responder.respond(to: bytes, zone: zone, transport: transport, variant: bytes.count) else {
                continue
            }
            // The same answer whether written into a ByteBuffer (the event loops) or into memory
            // prepared once (the batched UDP listener).
            let buffered = bytes.withUnsafeBytes {
                responder.respond(to: $0, zone: zone, transport: transport, variant: bytes.count, allocator: ByteBufferAllocator())
            }
            if case var .reply(buffer) = buffered {
                check(buffer.readBytes(length: buffer.readableBytes) == reply, "ByteBuffer and raw replies differ", bytes)
            } else {
                check(false, "a raw reply but no ByteBuffer reply", bytes)
            }
            if transport == .tcp {
                check(reply.count >= 2 && Int(reply[0]) << 8 | Int(reply[1]) == reply.count - 2, "bad TCP length", bytes)
                reply.removeFirst(2)
            }
            guard let message = try? DNSMessage(wire: reply) else {
                check(false, "reply does not parse", bytes)
                return
            }
            check(message.isResponse, "reply is not a response", bytes)
            check(message.id == UInt16(bytes[0]) << 8 | UInt16(bytes[1]), "reply ID differs", bytes)
            let limit = transport == .tcp ? 65535 : max(512, Int(parsed?.edns?.udpPayloadSize ?? 512))
            check(reply.count <= limit || parsed == nil, "reply of \(reply.count) bytes over the \(limit) limit", bytes)
        }
    }

    static func check(_ condition: Bool, _ what: String, _ input: [UInt8]) {
        guard !condition else { return }
        let hex = input.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        FileHandle.standardError.write(Data("property failed: \(what)\ninput: \(hex)\n".utf8))
        abort()
    }
}

#if DNS_LIBFUZZER
// SwiftPM links an executable's entry point as `<module>_main` (`--defsym main=DNSFuzz_main`),
// so libFuzzer's own `main` cannot be used; start its driver from ours instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The entry libFuzzer's archive expects (its `main` object is linked in as well).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    DNSFuzzCheck.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("DNSFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) }
}
#else
@main
struct DNSFuzzDriver {
    static func main() {
        var options = (seed: UInt64(1), start: 0, count: 1_000_000, seconds: 0.0, dump: false, corpus: "")
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            switch argument {
            case "--seed": options.seed = UInt64(arguments.popFirst() ?? "") ?? 1
            case "--start": options.start = Int(arguments.popFirst() ?? "") ?? 0
            case "--count": options.count = Int(arguments.popFirst() ?? "") ?? options.count
            case "--seconds": options.seconds = Double(arguments.popFirst() ?? "") ?? 0
            case "--dump": options.dump = true
            case "--write-corpus": options.corpus = arguments.popFirst() ?? ""
            default:
                print("""
                    usage: DNSFuzz [--seed N] [--start I] [--count N] [--seconds S] [--dump] [--write-corpus DIR]
                      Mutates valid DNS messages and checks the parser and responder on each.
                      --seconds runs until that much time has passed (--count is then ignored).
                      --dump prints each input as hex (replay one with --start I --count 1 --dump).
                      --write-corpus writes the seed messages as files (a libFuzzer corpus) and exits.
                    """)
                return
            }
        }
        let seeds = Seeds.all
        if !options.corpus.isEmpty {
            try? FileManager.default.createDirectory(atPath: options.corpus, withIntermediateDirectories: true)
            for (index, seed) in seeds.enumerated() {
                _ = FileManager.default.createFile(atPath: "\(options.corpus)/seed-\(index)", contents: Data(seed))
            }
            print("wrote \(seeds.count) seeds to \(options.corpus)")
            return
        }
        let started = Date()
        var iteration = options.start
        var done = 0
        while options.seconds > 0 ? Date().timeIntervalSince(started) < options.seconds : done < options.count {
            var random = SeededGenerator(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(iteration))
            let input = Mutator.mutate(seeds[Int(random.next() % UInt64(seeds.count))], seeds: seeds, random: &random)
            if options.dump { print(iteration, input.map { String(format: "%02x", $0) }.joined()) }
            DNSFuzzCheck.run(input)
            iteration += 1
            done += 1
            if done % 1_000_000 == 0 {
                print("\(done) inputs, \(Int(Double(done) / Date().timeIntervalSince(started))) per second")
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        print("ok: \(done) inputs (iterations \(options.start)..<\(iteration), seed \(options.seed)) in \(Int(elapsed)) s, "
              + "\(Int(Double(done) / max(elapsed, 0.001))) per second; no crash, every property held")
    }
}
#endif

/// Valid messages to start from: queries of every kind the responder distinguishes, and
/// responses with every record type (for the parser's round trip).
enum Seeds {
    static var all: [[UInt8]] {
        var seeds: [[UInt8]] = []
        let names: [DNSName] = ["web.fleet.", "3.web.fleet.", "_web._tcp.fleet.", "_http._tcp.web.fleet.",
                                "node1.machine.fleet.", "fleet.", "machine.fleet.", "nope.fleet.", "example.com.",
                                "1.0.0.10.in-addr.arpa.", "WeB.FLEET."]
        let types: [DNSRecordType] = [.a, .aaaa, .srv, .txt, .ptr, .soa, .ns, .any, .mx, .axfr]
        for (i, name) in names.enumerated() {
            for (j, type) in types.enumerated() where (i + j) % 3 == 0 || type == .a {
                seeds.append(DNSMessage.query(name, type, id: UInt16(i * 16 + j)).encoded())
                seeds.append(DNSMessage.query(name, type, edns: DNSEDNS(udpPayloadSize: UInt16(512 + 512 * (j % 8)),
                    dnssecOK: j % 2 == 0, options: [DNSEDNSOption(code: 10, data: Array(repeating: 7, count: 8))])).encoded())
            }
        }
        for query in [DNSMessage.query("web.fleet.", .a), DNSMessage.query("_web._tcp.fleet.", .srv),
                      DNSMessage.query("nope.fleet.", .a, edns: DNSEDNS()), DNSMessage.query("fleet.", .ns)] {
            // Responses: the responder's own answers, full (TCP) so they carry every section.
            if var reply = DNSFuzzCheck.responder.respond(to: query.encoded(), zone: DNSFuzzCheck.zone, transport: .tcp) {
                reply.removeFirst(2)
                seeds.append(reply)
            }
        }
        return seeds
    }
}

enum Mutator {
    static let interesting: [UInt8] = [0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xFF, 0x0C, 0x29]

    static func mutate(_ seed: [UInt8], seeds: [[UInt8]], random: inout SeededGenerator) -> [UInt8] {
        var bytes = seed
        let rounds = 1 + Int(random.next() % 4)
        for _ in 0..<rounds {
            let at = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 10 {
            case 0 where !bytes.isEmpty:  // flip a bit
                bytes[at] ^= 1 << UInt8(random.next() % 8)
            case 1 where !bytes.isEmpty:  // an interesting byte
                bytes[at] = interesting[Int(random.next() % UInt64(interesting.count))]
            case 2 where !bytes.isEmpty:  // a random byte
                bytes[at] = UInt8(truncatingIfNeeded: random.next())
            case 3:  // a compression pointer anywhere, to anywhere (loops, forward, out of range)
                let target = random.next() % UInt64(max(bytes.count + 16, 1))
                let pointer: [UInt8] = [0xC0 | UInt8((target >> 8) & 0x3F), UInt8(target & 0xFF)]
                bytes.replaceSubrange(at..<min(at + 2, bytes.count), with: pointer)
            case 4 where bytes.count >= 12:  // a section count
                let field = 4 + 2 * Int(random.next() % 4)
                let value = [0, 1, 2, 3, 255, 0xFFFF][Int(random.next() % 6)]
                bytes[field] = UInt8(value >> 8)
                bytes[field + 1] = UInt8(value & 0xFF)
            case 5:  // cut short
                bytes = Array(bytes.prefix(at))
            case 6:  // insert bytes
                let count = 1 + Int(random.next() % 8)
                bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: at)
            case 7 where !bytes.isEmpty:  // delete bytes
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(random.next() % 8)))
            case 8:  // splice in part of another seed
                let other = seeds[Int(random.next() % UInt64(seeds.count))]
                let from = Int(random.next() % UInt64(other.count))
                let length = Int(random.next() % UInt64(other.count - from + 1))
                bytes.insert(contentsOf: other[from..<from + length], at: at)
            default:  // a 16-bit length or type field somewhere
                if at + 1 < bytes.count {
                    let value: UInt16 = [0, 1, 41, 255, 0x7FFF, 0xFFFF, 16, 33][Int(random.next() % 8)]
                    bytes[at] = UInt8(value >> 8)
                    bytes[at + 1] = UInt8(value & 0xFF)
                }
            }
        }
        if bytes.count >= 3 && random.next() % 4 != 0 { bytes[2] &= 0x7F }  // mostly queries
        return bytes
    }
}

