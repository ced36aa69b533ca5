/// Our extension to the keys API, not etcd's: heartbeats on a quiet streaming watch, shared by
/// the server route (`KeysAPI`) and ``RemoteStore``.
///
/// Why: a streaming watch sends nothing while nothing changes, so its client cannot tell a quiet
/// key from a connection that died without a word, and made each quiet watch anew every few
/// seconds (the agent's and the engine's follow a TTL's worth of silence). Every new request on
/// a new connection is a TLS handshake the store's machine pays for, and at idle those were most
/// of the connections it accepted. With heartbeats a live connection is heard while quiet.
///
/// A watch asks with `heartbeat=<seconds>` beside `stream=true`; a server that lists `heartbeat`
/// in `X-Fleet-Store-Features` writes ``line`` whenever that watch has had nothing for that long.
/// A server that does not (etcd, an older fleetd) ignores the parameter.
package enum V2Heartbeat {
    package static let parameter = "heartbeat"
    /// The feature `X-Fleet-Store-Features` names.
    package static let feature = "heartbeat"
    /// The longest interval a watch may ask for, in seconds.
    package static let maxSeconds = 3600
    /// What a heartbeat is on the wire: an empty line, which no event or error is.
    package static let line: UInt8 = 0x0A
}
