import ArgumentParser

/// The standalone discovery DNS responder. The responder itself is the next capability to land
/// (see docs/architecture.md); until then this executable only explains that.
@main
struct FleetDNSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-dns",
        abstract: "DNS responder for fleet's service discovery (zone fleet.).",
        discussion: "Not implemented yet: answers for web.fleet, _web._tcp.fleet and friends arrive with discovery.")

    func run() throws {
        throw ValidationError("fleet-dns is not implemented yet; discovery records and the DNS responder are the next milestone.")
    }
}
