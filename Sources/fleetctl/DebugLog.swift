import Foundation

/// `--debug`: timestamped lines on stderr about what fleetctl is doing and waiting for.
enum DebugLog {
    nonisolated(unsafe) static var enabled = false {
        didSet { _ = start }  // times count from here, the start of the command
    }
    static let start = ContinuousClock.now

    static func log(_ message: @autoclosure () -> String) {
        guard enabled else { return }
        let elapsed = ContinuousClock.now - start
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        Terminal.error("DEBUG +\(milliseconds)ms \(message())")
    }
}
