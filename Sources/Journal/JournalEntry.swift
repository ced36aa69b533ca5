import Foundation

/// One journal entry: its fields (values as text) and when it was written.
public struct JournalEntry: Sendable, Equatable {
    public var fields: [String: String]
    /// Microseconds since the epoch (`__REALTIME_TIMESTAMP`).
    public var realtime: UInt64
    public var cursor: String?

    public init(fields: [String: String], realtime: UInt64, cursor: String? = nil) {
        self.fields = fields
        self.realtime = realtime
        self.cursor = cursor
    }

    /// The entry as one line of `format`, without the trailing newline.
    public func formatted(_ format: JournalFormat) -> String {
        let message = fields["MESSAGE"] ?? ""
        switch format {
        case .cat:
            return message
        case .json:
            var object = fields
            object["__REALTIME_TIMESTAMP"] = String(realtime)
            if let cursor { object["__CURSOR"] = cursor }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        case .short, .shortISO, .shortPrecise, .shortUnix:
            let host = fields["_HOSTNAME"].map { " " + $0 } ?? ""
            let identifier = fields["SYSLOG_IDENTIFIER"] ?? fields["_COMM"] ?? "unknown"
            let pid = (fields["SYSLOG_PID"] ?? fields["_PID"]).map { "[\($0)]" } ?? ""
            return "\(timestamp(format))\(host) \(identifier)\(pid): \(message)"
        }
    }

    /// The timestamp the short formats start with, in local time like journalctl.
    func timestamp(_ format: JournalFormat) -> String {
        let seconds = Int(realtime / 1_000_000), micros = Int(realtime % 1_000_000)
        if format == .shortUnix { return "\(seconds).\(String(format: "%06d", micros))" }
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        let pattern = format == .shortISO ? "%Y-%m-%dT%H:%M:%S%z" : "%b %d %H:%M:%S"
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, pattern, &parts)
        let text = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return format == .shortPrecise ? text + String(format: ".%06d", micros) : text
    }
}
