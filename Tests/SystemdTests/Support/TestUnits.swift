import Glibc

/// Unit names and files for tests.
enum TestUnits {
    /// A name no other test (or earlier run) uses: `fleet-test-<pid>-<random>-<role>.service`.
    static func uniqueName(_ role: String) -> String {
        "fleet-test-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))-\(role).service"
    }

    static func file(execStart: String) -> String {
        """
        [Unit]
        Description=fleet test unit

        [Service]
        ExecStart=\(execStart)

        """
    }

    static let sleeping = file(execStart: "/bin/sleep 1000")
    static let failing = file(execStart: "/bin/false")
}
