import Logging
import Synchronization

/// The process-wide log level, changeable while fleetd runs (a reload applies `--verbose`).
///
/// swift-log copies a handler's level into every logger, so a level that must change later is
/// read through this shared switch by ``SwitchedLogHandler``.
final class LogLevelSwitch: Sendable {
    private let current: Mutex<Logger.Level>

    init(_ level: Logger.Level) {
        current = Mutex(level)
    }

    var level: Logger.Level {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// A log handler whose level is the shared switch's, or stricter where one logger raised its
/// own (the HTTP servers' loggers stay at warning and above).
struct SwitchedLogHandler: LogHandler {
    var wrapped: any LogHandler
    let levelSwitch: LogLevelSwitch
    /// This logger's own floor, set through `logLevel`.
    private var floor: Logger.Level?

    init(wrapping handler: any LogHandler, levelSwitch: LogLevelSwitch) {
        wrapped = handler
        self.levelSwitch = levelSwitch
    }

    var logLevel: Logger.Level {
        get { max(levelSwitch.level, floor ?? .trace) }
        set { floor = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        guard level >= logLevel else { return }
        wrapped.log(level: level, message: message, metadata: metadata, source: source, file: file,
                    function: function, line: line)
    }
}
