#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// TCP keepalive on an accepted connection, so that a client that vanished without closing (a
/// machine cut off or powered down) is noticed: its connection then fails, the
/// ``ClientDisconnectHandler`` sees it, and a watch it held ends. The idle timeout cannot do
/// this, since a watch is a request in flight, and Linux's default (two hours of silence, then
/// nine probes 75 s apart) would keep the watch and its descriptor for over two hours.
///
/// Here: probes after 60 s of silence, every 10 s, 6 unanswered ones close the connection, so
/// a dead client is let go within about two minutes. Only for TCP; a unix socket's client
/// cannot vanish that way.
enum TCPKeepalive {
    static let idleSeconds = 60
    static let intervalSeconds = 10
    static let probes = 6

    /// Sets the options on `channel` (on its event loop); failures are ignored, the connection
    /// works without them.
    static func enable(on channel: any Channel) {
        guard let options = channel.syncOptions,
              let family = channel.localAddress?.protocol, family == .inet || family == .inet6 else { return }
        try? options.setOption(.socketOption(.so_keepalive), value: 1)
        #if os(Linux)
        for (name, value) in [(TCP_KEEPIDLE, idleSeconds), (TCP_KEEPINTVL, intervalSeconds), (TCP_KEEPCNT, probes)] {
            let option = ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name))
            try? options.setOption(option, value: value)
        }
        #endif
    }
}
