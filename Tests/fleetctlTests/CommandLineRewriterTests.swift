import ArgumentParser
import Testing
@testable import fleetctl

@Suite struct CommandLineRewriterTests {
    let commands = FleetctlCommand.commandNames

    @Test(arguments: [
        (["--endpoint", "unix:///x.sock", "list-m", "--full"], ["list-machines", "--endpoint", "unix:///x.sock", "--full"]),
        (["--endpoint=http://a:1", "--request-timeout", "2", "list-units"], ["list-units", "--endpoint=http://a:1", "--request-timeout", "2"]),
        (["rest", "a.service"], ["restart", "a.service"]),
        (["list-unit-f"], ["list-unit-files"]),
        (["list"], ["list"]),
        ([], []),
    ])
    func globalsMoveAfterTheCommandAndPrefixesResolve(input: [String], output: [String]) {
        #expect(CommandLineRewriter.rewrite(input, commands: commands) == output)
    }

    @Test(arguments: [
        (["lst-units"], "Unknown command 'lst-units'. Did you mean 'list-units'?"),
        (["stpo", "a.service"], "Unknown command 'stpo'. Did you mean 'stop'?"),
        (["list"], "Ambiguous command 'list': it could be 'list-units', 'list-unit-files', 'list-machines', 'list-services'."),
        (["frobnicate"], "Unknown command 'frobnicate'. Run 'fleetctl help' for the list of commands."),
    ])
    func unknownCommandsGetASuggestion(input: [String], message: String) {
        let rewritten = CommandLineRewriter.rewrite(input, commands: commands)
        #expect(CommandLineRewriter.unknownCommand(rewritten, commands: commands) == message)
    }

    @Test(arguments: [["list-units"], ["help", "stop"], ["--help"], ["--version"], []])
    func knownCommandsAndHelpPass(input: [String]) {
        #expect(CommandLineRewriter.unknownCommand(CommandLineRewriter.rewrite(input, commands: commands), commands: commands) == nil)
    }

    @Test func unknownOptionsAreUsageErrorsWithASuggestion() {
        let error = #expect(throws: (any Error).self) { try FleetctlCommand.parseAsRoot(["list-units", "--fulll"]) }
        let message = FleetctlCommand.fullMessage(for: error!)
        #expect(message.contains("Unknown option '--fulll'. Did you mean '--full'?"))
        #expect(FleetctlCommand.exitCode(for: error!) != .success)
    }

    @Test func everyCommandsHelpHasAnExample() {
        for command in FleetctlCommand.configuration.subcommands {
            #expect(command.configuration.discussion.contains("Example"), "\(command._commandName) has no example")
            #expect(FleetctlCommand.helpMessage(for: command).contains("fleetctl \(command._commandName)"))
        }
    }

    @Test func restartAndVerifyAreCommands() throws {
        #expect(try FleetctlCommand.parseAsRoot(["restart", "--block-attempts", "3", "a.service"]) is Restart)
        #expect(try FleetctlCommand.parseAsRoot(["verify", "a.service"]) is Verify)
        #expect(throws: (any Error).self) { try FleetctlCommand.parseAsRoot(["stop", "--block-attempts", "-1", "a.service"]) }
    }

    /// A count whose wait (2 s each) would overflow a Duration is refused, never trapped on.
    @Test(arguments: ["start", "stop", "unload", "destroy", "restart"])
    func anAbsurdBlockAttemptsCountIsRefused(command: String) {
        let huge = String(Int.max)
        #expect(throws: (any Error).self) { try FleetctlCommand.parseAsRoot([command, "--block-attempts", huge, "a.service"]) }
        #expect(throws: Never.self) { try FleetctlCommand.parseAsRoot([command, "--block-attempts", "100", "a.service"]) }
    }
}

@Suite struct GlobalOptionsTests {
    @Test func environmentFillsInWhatTheCommandLineLeavesOut() throws {
        let env = ["FLEETCTL_ENDPOINT": "http://10.0.0.1:4002", "FLEETCTL_REQUEST_TIMEOUT": "2.5"]
        let none = try GlobalOptions.parse([])
        #expect(none.resolvedEndpoint(env) == "http://10.0.0.1:4002")
        #expect(none.resolvedTimeout(env) == 2.5)
        let given = try GlobalOptions.parse(["--endpoint", "unix:///x.sock", "--request-timeout", "1"])
        #expect(given.resolvedEndpoint(env) == "unix:///x.sock")
        #expect(given.resolvedTimeout(env) == 1)
        #expect(none.resolvedEndpoint([:]) == "unix:///var/run/fleet.sock")
        #expect(none.resolvedTimeout([:]) == 10)
    }
}

@Suite struct FieldsTests {
    let valid = ["unit", "machine", "load", "active", "sub", "hash"]

    @Test func fieldsAreCheckedWithFleetsMessages() {
        #expect(TableOptions.columns("unit,active", valid: valid) == .success(["unit", "active"]))
        #expect(TableOptions.columns("", valid: valid) == .failure(.init(description: "Must define output format")))
        #expect(TableOptions.columns("unit,nope", valid: valid) == .failure(.init(description: #"Invalid key in output format: "nope""#)))
        #expect(TableOptions.columns("unit,", valid: valid) == .failure(.init(description: #"Invalid key in output format: """#)))
    }
}
