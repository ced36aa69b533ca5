#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

/// A plain TCP client on loopback, for what HTTP client libraries hide: sending half a request,
/// half-closing, abandoning a connection, leaving it idle. Reads never block a thread: they poll
/// and sleep, bounded by a deadline.
final class RawClient: @unchecked Sendable {
    private var fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawClientError(message: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            throw RawClientError(message: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit { close() }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Closes our side for writing (a FIN): what a client that exits mid-request looks like to a
    /// server allowing half-closed connections.
    func halfClose() { shutdown(fd, Int32(SHUT_WR)) }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// What the server sent within `timeout`, and whether it closed the connection (EOF or reset).
    /// Returns as soon as the connection closes, or once `until` is found in the text.
    func read(for timeout: Duration, until marker: String? = nil) async -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 0) > 0 {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { return (String(decoding: received, as: UTF8.self), true) }
                received += buffer[..<count]
                if let marker, String(decoding: received, as: UTF8.self).contains(marker) {
                    return (String(decoding: received, as: UTF8.self), false)
                }
                continue
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return (String(decoding: received, as: UTF8.self), false)
    }
}

struct RawClientError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Polls `condition` every 20 ms until it holds; records `failure` if it does not within `timeout`.
func eventually(within timeout: Duration = .seconds(5), _ failure: @autoclosure () -> String,
                _ condition: () async throws -> Bool) async rethrows {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try? await Task.sleep(for: .milliseconds(20))
    }
    if try await condition() { return }
    Issue.record(Comment(rawValue: failure()))
}
