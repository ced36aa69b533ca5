// store-crash-writer: the process the durability test kills with SIGKILL.
//
//   store-crash-writer write PATH WRITERS   N tasks, each setting /crash/w<i> to 1, 2, 3, ... forever,
//                                           printing `ack <writer> <seq> <index>` once each set returns
//   store-crash-writer verify PATH ACKFILE  reopens the store and checks every acknowledged write
//
// An ack line is written with write(2) straight to stdout, after the store acknowledged the
// write and before the next one starts, so whatever the test reads was acknowledged first.
import FleetStore
import FleetStoreEmbedded
import Foundation
import Synchronization

@preconcurrency import Glibc

/// write(2) whole lines to stdout; one lock so lines of different writers never interleave.
let stdoutLock = Mutex(())
func emit(_ line: String) {
    stdoutLock.withLock { _ in
        var bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if errno == EINTR { continue }; exit(3) }
            offset += n
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    fail("usage: store-crash-writer write PATH WRITERS | verify PATH ACKFILE")
}
let path = arguments[2]

switch arguments[1] {
case "write":
    guard let writers = Int(arguments[3]), writers > 0 else { fail("WRITERS must be a positive number") }
    let store: EmbeddedStore
    do {
        store = try EmbeddedStore(path: path)
    } catch {
        fail("store-crash-writer: \(error)")
    }
    // Continue each writer's sequence from what a previous (killed) run left, so a test can
    // also kill the same store repeatedly.
    var starts: [Int] = []
    for writer in 0..<writers {
        starts.append(Int((try? await store.value("/crash/w\(writer)")) ?? "0") ?? 0)
    }
    emit("ready \(writers)")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for writer in 0..<writers {
            let first = starts[writer] + 1
            group.addTask {
                var seq = first
                while true {
                    let event = try await store.set("/crash/w\(writer)", String(seq))
                    emit("ack \(writer) \(seq) \(event.index)")
                    seq += 1
                }
            }
        }
        try await group.waitForAll()
    }

case "verify":
    guard let acks = try? String(contentsOfFile: arguments[3], encoding: .utf8) else {
        fail("cannot read \(arguments[3])")
    }
    var highestSeq: [Int: Int] = [:]
    var highestIndex: UInt64 = 0
    var count = 0
    for line in acks.split(separator: "\n") {
        let fields = line.split(separator: " ")
        // A line cut off by the kill is not a complete ack; a complete one has all four fields.
        guard fields.count == 4, fields[0] == "ack", let writer = Int(fields[1]), let seq = Int(fields[2]),
              let index = UInt64(fields[3]) else { continue }
        count += 1
        highestSeq[writer] = max(highestSeq[writer] ?? 0, seq)
        highestIndex = max(highestIndex, index)
    }
    let store: EmbeddedStore
    do {
        store = try EmbeddedStore(path: path)
    } catch {
        fail("verify: reopening failed: \(error)")
    }
    var failures: [String] = []
    for (writer, seq) in highestSeq.sorted(by: { $0.key < $1.key }) {
        let stored = Int((try? await store.value("/crash/w\(writer)")) ?? "") ?? 0
        // Each writer has at most one write in flight, so the store holds the last acked
        // sequence number or the one after it (committed, killed before its ack was printed).
        if stored < seq { failures.append("writer \(writer): acked \(seq), stored \(stored): lost") }
        if stored > seq + 1 { failures.append("writer \(writer): acked \(seq), stored \(stored): invented") }
    }
    let index = try await store.currentIndex()
    if index < highestIndex { failures.append("index \(index) < highest acked index \(highestIndex)") }
    await store.close()
    if failures.isEmpty {
        print("ok acks=\(count) writers=\(highestSeq.count) highest_index=\(highestIndex) store_index=\(index)")
    } else {
        print("FAIL acks=\(count): " + failures.joined(separator: "; "))
        exit(2)
    }

default:
    fail("unknown mode '\(arguments[1])'; expected write or verify")
}
