import ArgumentParser

/// fleet's `--sign` on submit, load and start. fleet dropped signed units but kept the flag
/// to refuse it (exit 2, with its warning) rather than to fail on an unknown flag; so do we.
struct DeprecatedSignOption: ParsableArguments {
    @Flag(help: "Deprecated: signed units are no longer supported (exits 2, as fleet does).")
    var sign = false

    /// Exits 2 with fleet's warning when `--sign` was given.
    func refuseIfGiven() throws {
        guard sign else { return }
        Terminal.error("WARNING: The signed/verified units feature is DEPRECATED and cannot be used.")
        throw ExitCode(2)
    }
}
