import AsyncHTTPClient
import Foundation
import Glibc

/// One health probe, with a short timeout: a TCP connect to the instance's first port, or an
/// HTTP GET of the configured URL answering below 400.
enum HealthCheck {
    static func run(_ spec: DiscoverySpec, address: String) async -> Bool {
        switch spec.check {
        case .systemd:
            return true
        case .tcp:
            guard let port = spec.ports.first(where: { $0.proto == "tcp" })?.port else { return false }
            return await tcpConnects(host: address, port: port)
        case .http(let url):
            return await httpAnswers(url)
        }
    }

    /// A non-blocking connect with a 1 s deadline, run off the cooperative pool.
    static func tcpConnects(host: String, port: UInt16) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: connect(host: host, port: port, timeoutMilliseconds: 1000))
            }
        }
    }

    static func connect(host: String, port: UInt16, timeoutMilliseconds: Int32) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if started == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }

    static func httpAnswers(_ url: String) async -> Bool {
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return response.status.code < 400
        } catch {
            return false
        }
    }
}
