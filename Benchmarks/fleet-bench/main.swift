import Foundation

// fleet-bench: benchmarks that need no simulated machines. Run in release mode:
//   swift run -c release fleet-bench engine [MACHINES] [UNITS]
//   swift run -c release fleet-bench scale [MACHINES] [UNITS] [--ttl S] [--etcd URL[,URL...]] ...
let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "engine", nil:
    let machines = arguments.dropFirst().first.flatMap(Int.init) ?? 1000
    let units = arguments.dropFirst(2).first.flatMap(Int.init) ?? 10_000
    try await EngineBenchmark.run(machines: machines, units: units)
case "scale":
    do {
        try await ScaleBenchmark.run(try ScaleOptions(Array(arguments.dropFirst())))
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(1)
    }
default:
    print("usage: fleet-bench engine [MACHINES] [UNITS]\n" + ScaleOptions.usage)
}
