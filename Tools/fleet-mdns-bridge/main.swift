// fleet-mdns-bridge: the mDNS bridge on its own, for tests. An in-memory store is filled from a
// directory of discovery-record JSON files (see DirectoryFeed) and the bridge announces this
// machine's healthy records through the local avahi-daemon until SIGTERM/SIGINT.
import FleetDiscovery
import FleetMDNS
import FleetStore
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

let usage = """
    usage: fleet-mdns-bridge --records DIR [--machine-id ID] [--root /discovery] [--log-level info]

      --records DIR     directory of *.json discovery records (DiscoveryRecord's JSON) to serve
      --machine-id ID   this machine's ID (default: the contents of /etc/machine-id)
      --root KEY        the records' prefix in the store (default: /discovery)
      --log-level L     trace, debug, info, notice, warning, error (default: info)
    """

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard ["--records", "--machine-id", "--root", "--log-level"].contains(flag), let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("\(usage)\n".utf8))
        exit(flag == "-h" || flag == "--help" ? 0 : 64)
    }
    options[flag] = value
}
guard let records = options["--records"] else {
    FileHandle.standardError.write(Data("Error: --records is required.\n\(usage)\n".utf8))
    exit(64)
}
let machineID = options["--machine-id"]
    ?? (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    ?? ""
let root = options["--root"] ?? DiscoveryKeys.standard.root

// StreamLogHandler flushes every line, so a unit's log shows each one as it happens.
LoggingSystem.bootstrap { StreamLogHandler.standardOutput(label: $0) }
var logger = Logger(label: "fleet-mdns-bridge")
logger.logLevel = options["--log-level"].flatMap(Logger.Level.init(rawValue:)) ?? .info
logger[metadataKey: "machine.id"] = "\(machineID.prefix(8))"

let store = InMemoryStore()
let feed = DirectoryFeed(directory: URL(fileURLWithPath: records), store: store, root: root)
let bridge = MDNSBridge(store: store, machineID: machineID, root: root, logger: logger)
// Store first so it stops last; the bridge last so it stops (and withdraws) first.
let group = ServiceGroup(configuration: .init(
    services: [.init(service: store), .init(service: feed), .init(service: bridge)],
    gracefulShutdownSignals: [.sigterm, .sigint],
    logger: logger))
logger.info("fleet-mdns-bridge: serving records", metadata: ["records": "\(records)", "store.key": "\(root)"])
try await group.run()
logger.info("fleet-mdns-bridge: stopped")
