import FleetHTTPServer
import FleetRemoteStore
import FleetStore
import Foundation

/// The parameters of one keys-API request, from the query string and a form body merged as
/// etcd does, with etcd's parse errors (code 209 and friends, index 0). Public so the API's
/// role policy reads a request's conditions exactly as the keys API will.
public struct V2Parameters: Sendable {
    private var values: [String: [String]] = [:]

    public init(query: String?, formBody: String?) {
        for source in [query, formBody].compactMap({ $0 }) {
            for pair in source.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.decode(parts[0])
                values[name, default: []].append(parts.count > 1 ? Self.decode(parts[1]) : "")
            }
        }
    }

    static func decode(_ text: Substring) -> String {
        PercentDecoding.decode(text, plusAsSpace: true) ?? String(text)
    }

    /// The first value of `name`: the query string's before the form body's.
    public func string(_ name: String) -> String? { values[name]?.first }
    func has(_ name: String) -> Bool { values[name] != nil }

    /// Go's `strconv.ParseBool` spellings; absent is nil; anything else is error 209.
    public func bool(_ name: String) throws(StoreError) -> Bool? {
        guard let text = string(name) else { return nil }
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw StoreError(.invalidField, "invalid value for \"\(name)\"")
        }
    }

    func index(_ name: String) throws(StoreError) -> UInt64? {
        guard let text = string(name) else { return nil }
        guard let value = UInt64(text) else { throw StoreError(.indexNaN, "invalid value for \"\(name)\"") }
        return value
    }

    /// `ttl`: absent → nil; present but empty → 0 (remove the TTL); else whole seconds.
    /// A TTL above ``StoreLimits/maximumTTL`` (etcd v3's lease maximum) is refused as etcd v2
    /// refused any unusable TTL, with 202.
    func ttl() throws(StoreError) -> Int64?? {
        guard let text = string("ttl") else { return .none }
        if text.isEmpty { return .some(nil) }
        guard let value = Int64(text), (0...StoreLimits.maximumTTL).contains(value) else {
            throw StoreError(.ttlNaN, "invalid value for \"ttl\"")
        }
        return .some(value)
    }

    /// `heartbeat` (``V2Heartbeat``): whole seconds, up to ``V2Heartbeat/maxSeconds``, between
    /// heartbeats on a quiet streaming watch; absent or 0 is none; anything else is error 209.
    func heartbeat() throws(StoreError) -> Duration? {
        guard let text = string(V2Heartbeat.parameter) else { return nil }
        guard let seconds = Int(text), (0...V2Heartbeat.maxSeconds).contains(seconds) else {
            throw StoreError(.invalidField, "invalid value for \"\(V2Heartbeat.parameter)\"")
        }
        return seconds == 0 ? nil : .seconds(seconds)
    }

    func condition() throws(StoreError) -> StoreCondition {
        if has("prevValue") && (string("prevValue") ?? "").isEmpty {
            throw StoreError(.prevValueRequired, "\"prevValue\" cannot be empty")
        }
        return StoreCondition(prevExist: try bool("prevExist"), prevIndex: try index("prevIndex"),
                              prevValue: string("prevValue"), guardedBy: try storeGuard())
    }

    /// Our extension, not etcd's: `guardKey`, `guardIndex` and optionally `guardValue` make the
    /// write a guarded one (``StoreGuard``); the first two come together or not at all.
    func storeGuard() throws(StoreError) -> StoreGuard? {
        let key = string("guardKey"), index = try index("guardIndex")
        guard key != nil || index != nil || has("guardValue") else { return nil }
        guard let key, !key.isEmpty, let index else {
            throw StoreError(.invalidField, "guardKey and guardIndex go together")
        }
        return StoreGuard(key: key, createdIndex: index, value: string("guardValue"))
    }
}
